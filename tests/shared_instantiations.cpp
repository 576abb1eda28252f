// The one translation unit that instantiates what shared_instantiations.hpp declares extern.
#include "shared_instantiations.hpp"

namespace lstmner {
template class Tagger<float>;
template class TaggerNetwork<float>;
template class TaggerNetwork<double>;
template class Trainer<float>;
}  // namespace lstmner
