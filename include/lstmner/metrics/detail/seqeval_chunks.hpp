#pragma once
/// \file metrics/detail/seqeval_chunks.hpp
/// seqeval's default mode (seqeval.metrics.sequence_labeling): its tag split, end_of_chunk,
/// start_of_chunk and get_entities(), over a whole sequence (seqeval_chunks) and one tag at a
/// time (SeqevalChunker, what the streaming Scorer runs).

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace lstmner {

namespace detail {

/// seqeval's get_entities() tag split: the first character is the tag, the type is what follows
/// the first hyphen after it ("_" when empty).
struct SeqevalTag {
  char prefix;
  std::string_view type;
};

inline SeqevalTag seqeval_split(std::string_view chunk) {
  if (chunk.empty()) return {'\0', "_"};  // Python would raise IndexError on ''[0]
  std::string_view rest = chunk.substr(1);
  const std::size_t hyphen = rest.find('-');
  std::string_view type = hyphen == std::string_view::npos ? rest : rest.substr(hyphen + 1);
  if (type.empty()) type = "_";
  return {chunk[0], type};
}

inline bool seqeval_end_of_chunk(char prev_tag, char tag, std::string_view prev_type,
                                 std::string_view type) {
  bool end = false;
  if (prev_tag == 'E' || prev_tag == 'S') end = true;
  if ((prev_tag == 'B' || prev_tag == 'I') && (tag == 'B' || tag == 'S' || tag == 'O')) end = true;
  if (prev_tag != 'O' && prev_tag != '.' && prev_type != type) end = true;
  return end;
}

inline bool seqeval_start_of_chunk(char prev_tag, char tag, std::string_view prev_type,
                                   std::string_view type) {
  bool start = false;
  if (tag == 'B' || tag == 'S') start = true;
  if ((prev_tag == 'E' || prev_tag == 'S' || prev_tag == 'O') && (tag == 'E' || tag == 'I'))
    start = true;
  if (tag != 'O' && tag != '.' && prev_type != type) start = true;
  return start;
}

/// seqeval's get_entities over sentences joined with an "O" after each (its handling of a list
/// of lists), positions global and end inclusive, exactly as seqeval returns them.
struct SeqevalChunk {
  std::string_view type;
  std::size_t sentence, begin, last;
};

inline void seqeval_chunks(const std::vector<std::string>& tags, std::size_t sentence,
                           std::vector<SeqevalChunk>& out) {
  char prev_tag = 'O';
  std::string_view prev_type = "_";
  std::size_t begin = 0;
  for (std::size_t i = 0; i <= tags.size(); ++i) {
    const SeqevalTag t = i < tags.size() ? seqeval_split(tags[i]) : SeqevalTag{'O', "_"};
    if (seqeval_end_of_chunk(prev_tag, t.prefix, prev_type, t.type))
      out.push_back({prev_type, sentence, begin, i - 1});
    if (seqeval_start_of_chunk(prev_tag, t.prefix, prev_type, t.type)) begin = i;
    prev_tag = t.prefix;
    prev_type = t.type;
  }
}

/// seqeval_chunks one tag at a time, over sentences joined with an "O" after each (seqeval's
/// list of lists): feed() every tag of a sentence, then end_sentence(). Each returns the chunk
/// that ends just before the tag it is given (nullptr when none does): at most one per tag, with
/// global positions and an inclusive end, as seqeval_chunks over the joined tags gives them. The
/// state between tags is one tag's prefix and type and the open chunk's start, so memory does
/// not grow with the input.
class SeqevalChunker {
 public:
  struct Chunk {
    std::string type;
    std::size_t begin = 0, last = 0;
  };

  const Chunk* feed(std::string_view tag) {
    const SeqevalTag t = seqeval_split(tag);
    return step(t.prefix, t.type);
  }
  const Chunk* end_sentence() { return step('O', "_"); }

 private:
  const Chunk* step(char prefix, std::string_view type) {
    bool ended = false;
    if (seqeval_end_of_chunk(prev_tag_, prefix, prev_type_, type)) {
      chunk_.type = prev_type_;
      chunk_.begin = begin_;
      chunk_.last = position_ - 1;
      ended = true;
    }
    if (seqeval_start_of_chunk(prev_tag_, prefix, prev_type_, type)) begin_ = position_;
    prev_tag_ = prefix;
    prev_type_.assign(type);
    ++position_;
    return ended ? &chunk_ : nullptr;
  }

  char prev_tag_ = 'O';
  std::string prev_type_ = "_";
  std::size_t begin_ = 0, position_ = 0;
  Chunk chunk_;
};

}  // namespace detail

}  // namespace lstmner
