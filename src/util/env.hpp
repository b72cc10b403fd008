// Environment lookups behind a function, so configuration code can be tested
// without touching the process environment.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace tmpdump {

/// Returns the value of an environment variable, or nullopt when unset.
using Env = std::function<std::optional<std::string>(std::string_view name)>;

/// The real process environment.
[[nodiscard]] Env process_env();

/// A fixed environment, for tests.
[[nodiscard]] Env fixed_env(std::map<std::string, std::string, std::less<>> values);

}  // namespace tmpdump
