# The sources of archive/'s libraries: read by CMakeLists.txt here and by
# fuzz/CMakeLists.txt, which compiles the same files for libFuzzer.
set(tmpdump_archive_sources
  zip.cpp read_entry.cpp decoders.cpp
  extract.cpp extract_plan.cpp extract_worker.cpp extract_framed.cpp extract_output.cpp extract_hash.cpp
  extract_links.cpp extract_files.cpp
  zip_writer.cpp zstd_frames.cpp cost.cpp)
