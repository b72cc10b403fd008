# The sources of layer/'s libraries: read by CMakeLists.txt here and by
# fuzz/CMakeLists.txt, which compiles the same files for libFuzzer.
set(tmpdump_layer_sources config.cpp library_path.cpp pull.cpp log.cpp prepare.cpp)
