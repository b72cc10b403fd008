# The sources of util/'s libraries: read by CMakeLists.txt here and by
# fuzz/CMakeLists.txt, which compiles the same files for libFuzzer.
set(tmpdump_util_sources error.cpp env.cpp sha256.cpp file_source.cpp display.cpp fs_at.cpp io.cpp)
