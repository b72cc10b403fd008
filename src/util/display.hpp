// How a source (an archive's location) may appear in any output. Pure string
// work with no dependencies, so every program can link it: the bootstrap and
// the exec wrapper as well as the CLI, the S3 client and the HTTP transport.
#pragma once

#include <string>
#include <string_view>

namespace tmpdump {

/// `source` as it may appear in a message, log line, summary, stamp or init
/// error. A URL ("scheme://...", any scheme but s3) loses its userinfo
/// ("user:password@"), its fragment, and its query string, which becomes
/// "?…": a presigned URL's query holds its signature, credential and session
/// token. s3://bucket/key and file paths come back unchanged. This is the one
/// place that decides it; pull::display_name() and ByteSource::describe() of
/// URL sources use it.
[[nodiscard]] std::string display_source(std::string_view source);

}  // namespace tmpdump
