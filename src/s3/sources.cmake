# The sources of s3/'s libraries: read by CMakeLists.txt here and by
# fuzz/CMakeLists.txt, which compiles the same files for libFuzzer.
set(tmpdump_s3_uri_sources uri.cpp)
set(tmpdump_s3_sources config.cpp credentials.cpp source.cpp upload.cpp)
