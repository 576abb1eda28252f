# The fuzz targets: fuzz/fuzz_<name>.cpp, with seed inputs in fuzz/corpus/<name>/ and every input
# that ever found a bug in fuzz/regressions/<name>/. Read by fuzz/CMakeLists.txt (the libFuzzer
# build) and tests/CMakeLists.txt (the replay tests of every other build).
set(LSTMNER_FUZZ_TARGETS conll tokenizer prediction_file model_file model_payload)
# The readers of pretrained word vectors and of the character vocabulary, fuzzed wherever their
# headers are (they arrived on main from another branch while this list was written).
foreach(_reader word_vectors char_vocabulary)
  if(EXISTS "${CMAKE_CURRENT_LIST_DIR}/../include/lstmner/${_reader}.hpp")
    list(APPEND LSTMNER_FUZZ_TARGETS ${_reader})
  endif()
endforeach()
