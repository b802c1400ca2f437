// The file source's line reader at its limit: a line longer than maxBytes is read through to its
// newline without being kept (plain and gzip, across the reader's 64 KiB buffers), the lines
// around it come back whole, and every line's place (byte, number) is known. And the dead letter
// such a line becomes.
#include "line_reader.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "etl/record.h"
#include "large_file.h"
#include "long_line.h"
#include "test_env.h"

namespace {

using etl_file::LineLimits;
using etl_file::LineReader;
using Result = LineReader::Result;

constexpr uint64_t kMax = 100000;  // more than the reader's 64 KiB buffer: lines span refills
const LineLimits kLimits{kMax, 1024, etl::Record::kPadding};

struct Read {
  Result result;
  std::string line;
  uint64_t start, bytes;
  std::optional<uint64_t> number;
};

std::vector<Read> readAll(LineReader& reader) {
  std::vector<Read> all;
  while (true) {
    std::string line;
    Result result = reader.next(line);
    if (result == Result::End) return all;
    all.push_back({result, line, reader.lineStart(), reader.lineBytes(), reader.lineNumber()});
  }
}

std::string text(std::size_t n, char first) {
  std::string s(n, 'x');
  if (n) s[0] = first;
  return s;
}

class LineLimit : public testing::TestWithParam<const char*> {
 protected:
  std::string path(const std::string& name) { return dir_ / (name + GetParam()); }
  etltest::TempDir dir_;
};

TEST_P(LineLimit, ALineOverTheLimitIsReadThroughAndTheLinesAroundItComeBackWhole) {
  std::string file = path("lines");
  {
    etltest::LargeFile out(file);
    out.write(text(kMax - 1, 'a') + "\n" + text(kMax, 'b') + "\n");
    out.write("c").repeat('y', kMax).write("\n");          // one byte over
    out.write("\n{\"after\":1}\n").repeat('z', 5 * kMax);  // last, without a newline
  }
  LineReader reader(file, 0, kLimits);
  auto all = readAll(reader);
  ASSERT_EQ(all.size(), 6u);
  EXPECT_EQ(all[0].result, Result::Line);
  EXPECT_EQ(all[0].line, text(kMax - 1, 'a'));
  EXPECT_EQ(all[1].result, Result::Line);  // exactly the limit is kept
  EXPECT_EQ(all[1].line, text(kMax, 'b'));
  EXPECT_EQ(all[2].result, Result::TooLong);
  EXPECT_EQ(all[2].line, "c" + std::string(1023, 'y')) << "only its first keepBytes";
  EXPECT_EQ(all[2].bytes, kMax + 1);
  EXPECT_EQ(all[2].start, 2 * kMax + 1);
  EXPECT_EQ(all[2].number, 3u);
  EXPECT_EQ(all[3].line, "");  // an empty line is a line
  EXPECT_EQ(all[4].line, "{\"after\":1}");
  EXPECT_EQ(all[4].number, 5u);
  // The last line has no newline and is five times too long: kept as its first bytes, counted.
  EXPECT_EQ(all[5].result, Result::TooLong);
  EXPECT_EQ(all[5].bytes, 5 * kMax);
  EXPECT_EQ(all[5].line, std::string(1024, 'z'));
  EXPECT_EQ(reader.offset(), 8 * kMax + 16) << "past the last line";
}

TEST_P(LineLimit, EachLineIsABufferOfItsOwnThatTheRecordAdoptsAsIs) {
  std::string file = path("sizes");
  std::vector<std::size_t> sizes{0, 1, 100, 65535, 65536, 70000, kMax};
  {
    etltest::LargeFile out(file);
    for (std::size_t n : sizes) out.write(text(n, 'q') + "\n");
  }
  LineReader reader(file, 0, kLimits);
  auto all = readAll(reader);
  ASSERT_EQ(all.size(), sizes.size());
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    SCOPED_TRACE(sizes[i]);
    EXPECT_EQ(all[i].line, text(sizes[i], 'q'));
  }
  // Capacity: room for the padding and at most twice what the line needs, so a Record keeps the
  // buffer instead of copying the line once more.
  LineReader again(file, 0, kLimits);
  for (std::size_t n : sizes) {
    std::string line;
    ASSERT_EQ(again.next(line), Result::Line);
    if (n == 0) continue;
    EXPECT_GE(line.capacity(), n + etl::Record::kPadding) << n;
    EXPECT_LE(line.capacity(), 2 * (n + etl::Record::kPadding)) << n;
    // Shorter than a buffer, so in one or two pieces: exactly what it needs, as a copy would be.
    if (n < 65536) {
      EXPECT_EQ(line.capacity(), n + etl::Record::kPadding) << n;
    }
    const char* bytes = line.data();
    etl::Record record("events", std::move(line));
    EXPECT_EQ(record.raw().data(), bytes) << n << ": the record copied the line";
  }
}

TEST_P(LineLimit, ResumingPastALongLineNeverSeesItAndGzipKeepsCountingLines) {
  std::string file = path("resume");
  {
    etltest::LargeFile out(file);
    out.write("{\"n\":1}\n").repeat('\0', 3 * kMax).write("\n{\"n\":3}\n");
  }
  LineReader first(file, 0, kLimits);
  std::string line;
  ASSERT_EQ(first.next(line), Result::Line);
  ASSERT_EQ(first.next(line), Result::TooLong);
  EXPECT_EQ(line, std::string(1024, '\0'));
  uint64_t checkpoint = first.offset();
  EXPECT_EQ(checkpoint, 8 + 3 * kMax + 1);
  LineReader resumed(file, checkpoint, kLimits);
  auto rest = readAll(resumed);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].result, Result::Line);
  EXPECT_EQ(rest[0].line, "{\"n\":3}");
  bool gzip = std::string(GetParam()) == ".json.gz";
  // A gzip file is decompressed from its start anyway, so its lines keep their numbers; a plain
  // one is not read before its checkpoint.
  EXPECT_EQ(rest[0].number, gzip ? std::optional<uint64_t>(3) : std::nullopt);
}

INSTANTIATE_TEST_SUITE_P(PlainAndGzip, LineLimit, testing::Values(".json", ".json.gz"),
                         [](const auto& info) {
                           return std::string(info.param) == ".json.gz" ? "gzip" : "plain";
                         });

TEST(LineLimitGzip, DamageInsideALongLineLeavesOnlyItsFirstBytes) {
  etltest::TempDir dir;
  std::string file = dir / "cut.json.gz";
  {
    etltest::LargeFile out(file);
    out.write("{\"n\":1}\n").repeat('w', 2 << 20);
  }
  std::string bytes = etltest::readFile(file);
  etltest::writeFile(file, bytes.substr(0, bytes.size() - 64));  // cut before its end
  LineReader reader(file, 0, kLimits);
  std::string line;
  ASSERT_EQ(reader.next(line), Result::Line);
  EXPECT_THROW(reader.next(line), etl_file::DamagedInput);
  EXPECT_EQ(reader.partialLine(), std::string(1024, 'w'));
  EXPECT_LE(reader.partialLine().capacity(), 1024u + 64) << "nothing more of the line is kept";
}

TEST(LineLimitGzip, AGibibyteWithoutANewlineIsOneLineReadInBoundedMemory) {
  // The bomb, scaled down for a unit test: 64 MiB of NUL bytes, 64 KiB of gzip.
  etltest::TempDir dir;
  std::string file = dir / "bomb.json.gz";
  {
    etltest::LargeFile out(file, 9);
    out.repeat('\0', 64 << 20);
  }
  LineReader reader(file, 0, LineLimits{1 << 20, 1024, 64});
  std::string line;
  ASSERT_EQ(reader.next(line), Result::TooLong);
  EXPECT_EQ(reader.lineBytes(), 64u << 20);
  EXPECT_EQ(line.size(), 1024u);
  EXPECT_EQ(reader.next(line), Result::End);
  EXPECT_EQ(reader.offset(), 64u << 20);
}

TEST(LongLineLetter, HoldsTheFirstBytesCutAtACharacterAndSaysWhereTheLineWas) {
  EXPECT_EQ(etl_file::utf8Prefix("abc"), 3u);
  EXPECT_EQ(etl_file::utf8Prefix(""), 0u);
  EXPECT_EQ(etl_file::utf8Prefix("ab\xc3\xa9"), 4u);      // é whole
  EXPECT_EQ(etl_file::utf8Prefix("ab\xc3"), 2u);          // é cut after its lead byte
  EXPECT_EQ(etl_file::utf8Prefix("ab\xe2\x82"), 2u);      // € cut
  EXPECT_EQ(etl_file::utf8Prefix("ab\xe2\x82\xac"), 5u);  // € whole
  EXPECT_EQ(etl_file::utf8Prefix("a\xf0\x9f\x98"), 1u);   // an emoji cut
  EXPECT_EQ(etl_file::utf8Prefix(std::string(4, '\0')), 4u);
  EXPECT_EQ(etl_file::utf8Prefix("\x80\x80\x80\x80"), 4u) << "not UTF-8: kept as it is";

  etltest::TempDir dir;
  std::string file = dir / "x.json.gz";
  {
    etltest::LargeFile out(file);
    out.write("{}\n{\"name\":\"").repeat('\xc3', 1).write("\xa9").repeat('e', 2000).write("\"}\n");
  }
  LineReader reader(file, 0, LineLimits{1500, 14, 64});
  std::string line;
  ASSERT_EQ(reader.next(line), Result::Line);
  ASSERT_EQ(reader.next(line), Result::TooLong);
  ASSERT_EQ(line,
            "{\"name\":\"\xc3\xa9"
            "eee");                                                    // 14 bytes
  line.pop_back(), line.pop_back(), line.pop_back(), line.pop_back();  // ends inside the é
  etl::DeadLetter letter = etl_file::longLineLetter("events", file, reader, line, 1500);
  EXPECT_EQ(letter.record.raw(), "{\"name\":\"");
  EXPECT_EQ(letter.record.stream(), "events");
  EXPECT_EQ(letter.reason, "line of 2013 bytes is longer than max_record_bytes (1500): " + file +
                               ", line 2, from uncompressed byte 3; read through and skipped, its "
                               "first 9 bytes are this dead letter's record");
  EXPECT_EQ(letter.record.metadata().at("offset"), "3");
  EXPECT_EQ(letter.record.metadata().at("bytes"), "2013");
}

}  // namespace
