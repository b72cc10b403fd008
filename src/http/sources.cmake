# The sources of http/'s libraries: read by CMakeLists.txt here and by
# fuzz/CMakeLists.txt, which compiles the same files for libFuzzer.
set(tmpdump_http_sources transport.cpp curl_transport.cpp)
