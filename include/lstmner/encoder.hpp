#pragma once
/// \file encoder.hpp
/// `Encoder`: the contextual part of a tagger — 1..n stacked BiLSTM layers, with dropout on the
/// encoder's input, between the layers and on its output.
///
///   forward(x, lengths, ws, context, seed):  x (In,B,T) → output() (2H,B,T). `seed` set
///       (training): dropout masks drawn from it (per token column, dropout.hpp); unset
///       (inference): no dropout, deterministic.
///   backward(x, lengths, d_output, dx, ws, context):  after a forward with the same ws:
///       writes dx (In,B,T) and accumulates every layer's gradients.
///
/// Layer k reads layer k−1's (dropped-out) output, 2H features. Parameters in slot order: layer 0
/// ("lstm.forward.W", ...), then layer 1 ("lstm2.forward.W", ...), and so on.
/// All passes run on the ExecutionContext, with results that do not depend on the thread count.

#include <lstmner/bidirectional.hpp>
#include <lstmner/dropout.hpp>
#include <lstmner/execution_context.hpp>
#include <lstmner/lstm.hpp>
#include <lstmner/param.hpp>
#include <lstmner/random.hpp>
#include <lstmner/sequence_lengths.hpp>
#include <lstmner/tensor.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lstmner {

template <class Scalar>
class Encoder {
 public:
  using BiLSTM = lstmner::BiLSTM<Scalar>;

  /// Token columns per part of the dropout stages, at least.
  static constexpr Index columns_per_part = 32;

  struct Workspace {
    /// Per layer: its input after dropout, its output; the last output after dropout.
    std::vector<Tensor3<Scalar>> dropped_inputs, outputs;
    Tensor3<Scalar> dropped_output;
    std::vector<typename Dropout<Scalar>::Workspace> input_dropout;  ///< per layer
    typename Dropout<Scalar>::Workspace output_dropout;
    std::vector<typename BiLSTM::Workspace> layers;
    // backward
    Tensor3<Scalar> d_output, d_dropped;
    std::array<Tensor3<Scalar>, 2> d_layer_input;
    bool dropout_applied = false;
    std::uint64_t seed = 0;
  };

  std::vector<BiLSTM> layers;
  Dropout<Scalar> dropout;

  Encoder() = default;
  /// `num_layers` BiLSTM layers of `hidden` units per direction over `input_size` features,
  /// drawn from `rng` layer by layer (forward direction first).
  /// With `shapes_only` instead of an Rng: zero weights, no gradient buffers (param.hpp).
  template <class Init>
  Encoder(Index input_size, Index hidden, int num_layers, double dropout_rate, Init&& init)
      : dropout(dropout_rate) {
    require(num_layers >= 1, "Encoder: at least one BiLSTM layer");
    for (int k = 0; k < num_layers; ++k) {
      layers.push_back(make_bilstm<Scalar>(k == 0 ? input_size : 2 * hidden, hidden, init));
      const std::string prefix = k == 0 ? "lstm." : "lstm" + std::to_string(k + 1) + ".";
      for (auto* p : layers.back().params()) p->name = prefix + p->name;
    }
  }

  Index input_size() const { return layers.front().input_size(); }
  Index output_size() const { return layers.back().output_size(); }

  ParamList<Scalar> params() {
    ParamList<Scalar> list;
    for (auto& layer : layers) append_params(list, layer.params());
    return list;
  }

  /// The encoder's output of the last forward (after dropout when it was applied).
  const Tensor3<Scalar>& output(const Workspace& ws) const {
    return ws.dropout_applied ? ws.dropped_output : ws.outputs.back();
  }

  void forward(const Tensor3<Scalar>& x, const SequenceLengths& lengths, Workspace& ws,
               ExecutionContext& context, std::optional<std::uint64_t> seed) const {
    const std::size_t L = layers.size();
    ws.dropout_applied = seed.has_value() && dropout.rate() > 0.0;
    ws.seed = seed.value_or(0);
    ws.dropped_inputs.resize(L);
    ws.outputs.resize(L);
    ws.input_dropout.resize(L);
    ws.layers.resize(L);
    for (std::size_t k = 0; k < L; ++k) {
      const Tensor3<Scalar>& in = k == 0 ? x : ws.outputs[k - 1];
      const Tensor3<Scalar>* layer_in = &in;
      if (ws.dropout_applied) {
        apply_dropout(in, lengths, ws.dropped_inputs[k], mask_seed(ws.seed, k), ws.input_dropout[k],
                      context);
        layer_in = &ws.dropped_inputs[k];
      }
      layers[k].forward(*layer_in, lengths, ws.outputs[k], ws.layers[k], context);
    }
    if (ws.dropout_applied) {
      apply_dropout(ws.outputs.back(), lengths, ws.dropped_output, mask_seed(ws.seed, L),
                    ws.output_dropout, context);
    }
  }

  /// d_output: the gradient of output(ws). Writes dx, the gradient of x.
  void backward(const Tensor3<Scalar>& x, const SequenceLengths& lengths,
                const Tensor3<Scalar>& d_output, Tensor3<Scalar>& dx, Workspace& ws,
                ExecutionContext& context) {
    const Tensor3<Scalar>* d = &d_output;
    if (ws.dropout_applied) {
      unapply_dropout(d_output, lengths, ws.d_output, ws.output_dropout, context);
      d = &ws.d_output;
    }
    for (std::size_t k = layers.size(); k-- > 0;) {
      const Tensor3<Scalar>& in = k == 0 ? x : ws.outputs[k - 1];
      const Tensor3<Scalar>& layer_in = ws.dropout_applied ? ws.dropped_inputs[k] : in;
      // The gradient of layer k's input: dx for the first layer, else one of two buffers taken
      // in turn (a layer never writes the buffer it reads).
      Tensor3<Scalar>& below = k == 0 ? dx : ws.d_layer_input[k % 2];
      if (ws.dropout_applied) {
        layers[k].backward(layer_in, lengths, *d, ws.d_dropped, ws.layers[k], context);
        unapply_dropout(ws.d_dropped, lengths, below, ws.input_dropout[k], context);
      } else {
        layers[k].backward(layer_in, lengths, *d, below, ws.layers[k], context);
      }
      d = &below;
    }
  }

 private:
  /// The dropout seed of stage k (k = L: the output) from the pass's seed.
  static std::uint64_t mask_seed(std::uint64_t seed, std::size_t k) {
    return seed + 0x9E3779B97F4A7C15ull * (static_cast<std::uint64_t>(k) + 1);
  }

  void apply_dropout(const Tensor3<Scalar>& in, const SequenceLengths& lengths,
                     Tensor3<Scalar>& out, std::uint64_t seed,
                     typename Dropout<Scalar>::Workspace& dws, ExecutionContext& context) const {
    dropout.resize_for(in, out, dws);
    context.for_ranges(in.dim(1) * in.dim(2), columns_per_part, [&](Range columns) {
      dropout.forward_columns(in, lengths, out, seed, dws, columns);
    });
  }

  void unapply_dropout(const Tensor3<Scalar>& d_out, const SequenceLengths& lengths,
                       Tensor3<Scalar>& d_in, const typename Dropout<Scalar>::Workspace& dws,
                       ExecutionContext& context) const {
    d_in.resize(d_out.shape());
    context.for_ranges(d_out.dim(1) * d_out.dim(2), columns_per_part, [&](Range columns) {
      dropout.backward_columns(d_out, lengths, d_in, dws, columns);
    });
  }
};

}  // namespace lstmner
