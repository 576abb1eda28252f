# Builds and runs tests/consumer/project against lstmner, in MODE add_subdirectory or find_package.
# Called by CTest as: cmake -DMODE=... -DSOURCE_DIR=... -DCONSUMER_DIR=... -DWORK_DIR=... -DCXX=... -P
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  message(STATUS "${out}")
endfunction()

if(MODE STREQUAL "find_package")
  # Configure lstmner alone, install it into a prefix, then build the consumer against that prefix.
  run("${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${WORK_DIR}/lstmner-build"
      -DCMAKE_CXX_COMPILER=${CXX} -DLSTMNER_BUILD_TESTS=OFF -DLSTMNER_BUILD_EXAMPLES=OFF
      -DLSTMNER_BUILD_BENCHMARKS=OFF -DLSTMNER_INSTALL=ON "-DCMAKE_INSTALL_PREFIX=${WORK_DIR}/prefix")
  run("${CMAKE_COMMAND}" --install "${WORK_DIR}/lstmner-build")
  run("${CMAKE_COMMAND}" -S "${CONSUMER_DIR}/project" -B "${WORK_DIR}/consumer-build"
      -DCMAKE_CXX_COMPILER=${CXX} "-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix")
elseif(MODE STREQUAL "add_subdirectory")
  run("${CMAKE_COMMAND}" -S "${CONSUMER_DIR}/project" -B "${WORK_DIR}/consumer-build"
      -DCMAKE_CXX_COMPILER=${CXX} "-DLSTMNER_SOURCE_DIR=${SOURCE_DIR}")
else()
  message(FATAL_ERROR "MODE must be find_package or add_subdirectory")
endif()
run("${CMAKE_COMMAND}" --build "${WORK_DIR}/consumer-build")
run("${WORK_DIR}/consumer-build/consumer")
