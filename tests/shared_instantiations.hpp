// Compile-time saving for lstmner's own tests, nothing they test: the tagger's classes are
// instantiated once, in shared_instantiations.cpp, instead of in every test that uses them
// (each instantiation of the whole training pipeline costs about a minute of compiling, several
// under the sanitizers). tests/CMakeLists.txt includes this header first in the tests that ask
// for it (lstmner_add_test(... SHARED_INSTANTIATIONS)) and links the one instantiating object.
#pragma once

#include <lstmner/network.hpp>
#include <lstmner/tagger.hpp>
#include <lstmner/trainer.hpp>

namespace lstmner {
extern template class Tagger<float>;
extern template class TaggerNetwork<float>;
extern template class TaggerNetwork<double>;
extern template class Trainer<float>;
}  // namespace lstmner
