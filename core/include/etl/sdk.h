// etl/sdk.h: everything a plugin author needs, in one include.
#pragma once

#include "etl/batch.h"
#include "etl/clock.h"
#include "etl/config.h"
#include "etl/errors.h"
#include "etl/files.h"
#include "etl/http.h"
#include "etl/metrics.h"
#include "etl/plugin.h"
#include "etl/record.h"
#include "etl/text.h"
