#include "dead_letters.h"

#include <Poco/DigestEngine.h>
#include <Poco/MD5Engine.h>

#include "etl/text.h"

namespace sql {

DeadLetterRow deadLetterRow(const etl::DeadLetter& letter) {
  const std::string& raw = letter.record.raw();
  DeadLetterRow row{
      letter.plugin,          letter.record.stream(), etl::storableText(letter.reason),
      etl::storableText(raw), std::nullopt,           {}};
  if (!etl::isStorableText(raw)) row.recordBytes = raw;
  Poco::MD5Engine md5;
  // The same record refused by the same plugin for the same reason is one dead letter, whichever
  // pipeline or replay met it.
  const std::string* parts[] = {&row.plugin, &row.stream, &letter.reason, &raw};
  for (const std::string* part : parts) {
    md5.update(*part);
    md5.update('\0');
  }
  row.fingerprint = Poco::DigestEngine::digestToHex(md5.digest());
  return row;
}

}  // namespace sql
