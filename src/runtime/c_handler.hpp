// Driving a C ABI handler (include/tmpdump/handler.h): used by the bootstrap.
#pragma once

#include "tmpdump/handler.h"

namespace tmpdump::runtime {

/// Runs the Runtime API loop with a C handler and optional SnapStart hooks
/// (null when the library has none). Returns the exit code.
int run_c_handler(tmpdump_handler_fn handler, tmpdump_hook_fn before_snapshot, tmpdump_hook_fn after_restore);

}  // namespace tmpdump::runtime
