// The JSON report (schema: reports/tftpspec-report.schema.json), written atomically.
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "report/model.h"

namespace tftp::report {

inline constexpr const char* kSchemaId = "https://tftpspec.dev/schema/report-2.json";

nlohmann::json to_json(const RunReport& report);

}  // namespace tftp::report
