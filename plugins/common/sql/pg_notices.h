// The messages a PostgreSQL server sends beside results (NOTICE, WARNING, INFO, LOG, DEBUG): libpq
// prints them to stderr, past etlrun's logger, its format (--log-format=json) and its level. They
// go to the plugin's logger instead.
#pragma once

#include <libpq-fe.h>

namespace Poco {
class Logger;
}

namespace sql {

// Installs on `connection` (right after it is created, before it can receive one) a notice
// receiver that logs each message to `logger` as "PostgreSQL NOTICE 42P07: ..." with its detail
// and hint: WARNING at warning level, NOTICE and INFO at information, except what IF [NOT]
// EXISTS says on every start ("relation ... already exists, skipping": the duplicate_* SQLSTATEs)
// at debug, like LOG and DEBUG. `logger` must outlive the connection.
void routeNotices(PGconn* connection, Poco::Logger& logger);

}  // namespace sql
