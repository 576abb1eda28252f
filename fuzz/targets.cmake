# The fuzz targets: fuzz/fuzz_<name>.cpp, with seed inputs in fuzz/corpus/<name>/ and every input
# that ever found a bug in fuzz/regressions/<name>/. Read by fuzz/CMakeLists.txt (the libFuzzer
# build) and tests/CMakeLists.txt (the replay tests of every other build).
set(LSTMNER_FUZZ_TARGETS conll tokenizer prediction_file)
