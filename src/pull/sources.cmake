# The sources of pull/'s libraries: read by CMakeLists.txt here and by
# fuzz/CMakeLists.txt, which compiles the same files for libFuzzer.
set(tmpdump_pull_local_sources spec.cpp stamp.cpp)
set(tmpdump_pull_sources source.cpp install.cpp)
