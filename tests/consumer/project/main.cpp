#include <lstmner/tensor.hpp>
#include <lstmner/version.hpp>

#include <iostream>

int main() {
  lstmner::Tensor2<float> t;
  t.resize(2, 3);
  t.setConstant(1.5f);
  std::cout << "lstmner " << lstmner::version_string << " sum " << t.matrix().sum() << "\n";
  return t.matrix().sum() == 9.0f ? 0 : 1;
}
