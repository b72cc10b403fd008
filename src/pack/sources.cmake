# The sources of pack/'s libraries: read by CMakeLists.txt here and by
# fuzz/CMakeLists.txt, which compiles the same files for libFuzzer.
set(tmpdump_image_sources image.cpp)
set(tmpdump_manifest_sources manifest.cpp)
set(tmpdump_pack_sources plan.cpp trace_file.cpp closure.cpp glob.cpp write.cpp prune.cpp)
