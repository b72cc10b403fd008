# The sources of runtime/'s libraries: read by CMakeLists.txt here and by
# fuzz/CMakeLists.txt, which compiles the same files for libFuzzer.
set(tmpdump_runtime_sources http.cpp client.cpp runtime.cpp handler_abi.cpp)
