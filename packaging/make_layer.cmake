# Builds layer.zip (cmake -DINPUTS=<layer-inputs.cmake> -P make_layer.cmake).
# Layout once Lambda unpacks it into /opt:
#   /opt/bootstrap, /opt/tmpdump-exec-wrapper, /opt/bin/tmpdump   the entry points
#   /opt/tmpdump/lib/                                             their loader, glibc and libraries,
#                                                                 and libtmpdump-pull.so, which they dlopen
#   /opt/tmpdump/layer.txt                                        version, architecture, bundled files
# Each entry point is the real program, stripped, with PT_INTERP set to the
# bundled loader and DT_RPATH (not RUNPATH: it must win over Lambda's
# LD_LIBRARY_PATH, which lists /lib64 with the system glibc) set to the bundled
# lib/. Nothing is put in the environment, so whatever the entry points exec
# (the handler, java, python) runs with the system's own libraries.
cmake_minimum_required(VERSION 3.25)
include(${INPUTS})
set(prefix /opt)
set(private tmpdump/lib)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "layer: '${cmd}' failed (${rc}): ${err}")
  endif()
  set(run_out "${out}" PARENT_SCOPE)
endfunction()

# The ELF machine (readelf's "Machine:" line) and DT_NEEDED of a file.
function(elf_info file machine_var needed_var)
  run(${LAYER_READELF} -h -d ${file})
  string(REGEX MATCH "Machine: +([^\n]+)" m "${run_out}")
  set(${machine_var} "${CMAKE_MATCH_1}" PARENT_SCOPE)
  string(REGEX MATCHALL "\\(NEEDED\\)[^[]*\\[[^]]+\\]" lines "${run_out}")
  set(needed "")
  foreach(l IN LISTS lines)
    string(REGEX REPLACE ".*\\[([^]]+)\\]" "\\1" so "${l}")
    list(APPEND needed ${so})
  endforeach()
  set(${needed_var} "${needed}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE ${LAYER_STAGE})
file(MAKE_DIRECTORY ${LAYER_STAGE}/${private})

set(queue "")
set(entry_machine "")
set(entry_files "")
foreach(entry IN LISTS LAYER_ENTRIES)
  string(REGEX MATCH "^([^=]+)=(.+)$" ok "${entry}")
  set(dest ${LAYER_STAGE}/${CMAKE_MATCH_1})
  get_filename_component(dir ${dest} DIRECTORY)
  file(MAKE_DIRECTORY ${dir})
  file(COPY_FILE ${CMAKE_MATCH_2} ${dest})
  run(${LAYER_STRIP} --strip-all ${dest})
  elf_info(${dest} machine needed)
  set(entry_machine "${machine}")
  list(APPEND queue ${needed})
  list(APPEND entry_files ${CMAKE_MATCH_1})
endforeach()

# Modules (the pull module) sit among the bundled libraries and find their
# dependencies there.
set(module_files "")
foreach(module IN LISTS LAYER_MODULES)
  get_filename_component(name ${module} NAME)
  file(COPY_FILE ${module} ${LAYER_STAGE}/${private}/${name})
  run(${LAYER_STRIP} --strip-all ${LAYER_STAGE}/${private}/${name})
  elf_info(${LAYER_STAGE}/${private}/${name} machine needed)
  list(APPEND queue ${needed})
  list(APPEND module_files ${private}/${name})
endforeach()

# Breadth-first over DT_NEEDED; every library is copied under its soname.
set(bundled "")
set(sources "")
while(queue)
  list(POP_FRONT queue so)
  if(so IN_LIST bundled)
    continue()
  endif()
  set(found "")
  foreach(d IN LISTS LAYER_DIRS)
    if(EXISTS ${d}/${so})
      elf_info(${d}/${so} machine needed)
      if(machine STREQUAL entry_machine)
        set(found ${d}/${so})
        break()
      endif()
    endif()
  endforeach()
  if(NOT found)
    message(FATAL_ERROR "layer: ${so} (${entry_machine}) is in none of: ${LAYER_DIRS}")
  endif()
  file(REAL_PATH ${found} real)
  file(COPY_FILE ${real} ${LAYER_STAGE}/${private}/${so})
  list(APPEND bundled ${so})
  list(APPEND sources "${so} <- ${real}")
  list(APPEND queue ${needed})
endwhile()
if(NOT LAYER_LOADER IN_LIST bundled)
  message(FATAL_ERROR "layer: the loader ${LAYER_LOADER} was not among the libraries (${bundled})")
endif()

foreach(rel IN LISTS entry_files)
  get_filename_component(dir ${rel} DIRECTORY)
  if(dir)
    file(RELATIVE_PATH up ${LAYER_STAGE}/${dir} ${LAYER_STAGE})
    set(origin "$ORIGIN/${up}${private}")
  else()
    set(origin "$ORIGIN/${private}")
  endif()
  # $ORIGIN for a layer unpacked elsewhere (tests, qemu -L); /opt for Lambda
  # even where /proc is missing and $ORIGIN cannot be resolved.
  run(${LAYER_PATCHELF} --set-interpreter ${prefix}/${private}/${LAYER_LOADER}
      --force-rpath --set-rpath "${origin}:${prefix}/${private}" ${LAYER_STAGE}/${rel})
endforeach()

foreach(rel IN LISTS module_files)
  run(${LAYER_PATCHELF} --force-rpath --set-rpath "$ORIGIN:${prefix}/${private}" ${LAYER_STAGE}/${rel})
endforeach()

list(SORT sources)
string(REPLACE ";" "\n" source_lines "${sources}")
file(WRITE ${LAYER_STAGE}/tmpdump/layer.txt
     "tmpdump layer ${LAYER_VERSION} for ${LAYER_ARCH}\nentry points: ${entry_files}\nmodules: ${module_files}\nbundled libraries:\n${source_lines}\n")

# Modes: programs and the loader 0755, everything else 0644, directories 0755.
file(GLOB_RECURSE files LIST_DIRECTORIES true RELATIVE ${LAYER_STAGE} ${LAYER_STAGE}/*)
list(SORT files)
foreach(f IN LISTS files)
  if(IS_DIRECTORY ${LAYER_STAGE}/${f} OR f IN_LIST entry_files OR f STREQUAL "${private}/${LAYER_LOADER}")
    file(CHMOD ${LAYER_STAGE}/${f} PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
         WORLD_READ WORLD_EXECUTE)
  else()
    file(CHMOD ${LAYER_STAGE}/${f} PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
  endif()
endforeach()

# Reproducible: fixed times, sorted names, no extra attributes (-X), UTC.
if(DEFINED ENV{SOURCE_DATE_EPOCH})
  set(epoch $ENV{SOURCE_DATE_EPOCH})
else()
  set(epoch 1700000000)
endif()
run(find ${LAYER_STAGE} -exec touch -h -d @${epoch} {} +)
string(REPLACE ";" "\n" list_text "${files}")
file(WRITE ${LAYER_STAGE}.list "${list_text}\n")
file(REMOVE ${LAYER_OUTPUT})
execute_process(COMMAND ${CMAKE_COMMAND} -E env TZ=UTC ${LAYER_ZIP} -X -y -q -9 ${LAYER_OUTPUT} -@
                WORKING_DIRECTORY ${LAYER_STAGE} INPUT_FILE ${LAYER_STAGE}.list RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "layer: zip failed (${rc})")
endif()

file(SIZE ${LAYER_OUTPUT} zipped)
set(unzipped 0)
foreach(f IN LISTS files)
  if(NOT IS_DIRECTORY ${LAYER_STAGE}/${f})
    file(SIZE ${LAYER_STAGE}/${f} s)
    math(EXPR unzipped "${unzipped} + ${s}")
  endif()
endforeach()
list(LENGTH bundled n)
math(EXPR zipped_kb "${zipped} / 1024")
math(EXPR unzipped_kb "${unzipped} / 1024")
message(STATUS "layer: ${LAYER_OUTPUT}: ${zipped_kb} KiB (${unzipped_kb} KiB unpacked), ${LAYER_ARCH}, ${n} bundled libraries")
