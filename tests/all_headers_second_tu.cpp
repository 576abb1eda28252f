#include "lstmner_all_headers.hpp"

int lstmner_second_translation_unit_version() {
  return lstmner::version_major * 10000 + lstmner::version_minor * 100 + lstmner::version_patch;
}
