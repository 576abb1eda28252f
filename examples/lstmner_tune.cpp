// lstmner-tune: random or grid search over lstmner-train's options, objective dev F1.
//
//   lstmner-tune --dir DIR --data CONLL [--space FILE.json] [--param NAME=KIND:ARGS ...]
//                [--trials N | --grid] [--jobs J] [--seed S] [--median-after E]
//                [--final-seeds K] [--report] [-- more lstmner-train options]
//
// Each trial is a plain lstmner-train command (`... --metrics-json F --progress F`) run as a
// child process, --jobs at a time, with the machine's cores shared out among them (--threads).
// A trial whose best dev F1 after some epoch is below the median of the other trials' best at
// that epoch is stopped (the median stopping rule). Everything lives in DIR: one JSON line per
// finished trial (trials.jsonl), a directory per trial, summary.txt / summary.json and with
// --report an HTML page. Killing lstmner-tune and starting it again with the same DIR resumes:
// finished trials are kept, an unfinished one is run again from its start, and a trial still
// running from the killed tuner is waited for, never started twice (a lock file per trial).
// --print-commands writes the trial commands for GNU parallel; --collect reads results back.
// docs/tuning.md describes it all.

#include <lstmner/version.hpp>

#include "atomic_file.hpp"
#include "report/pages.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* tool = "lstmner-tune";

/// A command-line problem: exit code 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

volatile std::sig_atomic_t stop_signal = 0;
extern "C" void request_stop(int signal_number) {
  stop_signal = signal_number;
}

// ----- random numbers: our own, so a seed means the same trials everywhere -------------------

std::uint64_t mix(std::uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

class Random {
 public:
  explicit Random(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() { return mix(state_++ * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull); }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  std::uint64_t below(std::uint64_t n) {
    const std::uint64_t threshold = (0 - n) % n;
    for (;;) {
      const std::uint64_t r = next();
      if (r >= threshold) return r % n;
    }
  }

 private:
  std::uint64_t state_;
};

// ----- the search space ------------------------------------------------------------------------

/// One dimension: an lstmner-train option and how its value is drawn.
struct Dimension {
  std::string name;  ///< the option without its dashes: "lr", "batch-size"
  std::string kind;  ///< loguniform, uniform, int, choice
  double low = 0, high = 0;
  std::vector<json> values;  ///< choice
};

json dimension_json(const Dimension& d) {
  if (d.kind == "choice") return {{"kind", d.kind}, {"values", d.values}};
  return {{"kind", d.kind}, {"low", d.low}, {"high", d.high}};
}

std::string normalize_name(std::string name) {
  while (!name.empty() && name.front() == '-') name.erase(name.begin());
  return name;
}

void check_dimension(const Dimension& d) {
  static const std::set<std::string> owned = {
      "data",         "train",    "dev",   "test",   "seed", "threads",
      "metrics-json", "progress", "model", "report", "q",    "quiet"};
  if (d.name.empty()) throw UsageError("a search dimension has no option name");
  if (owned.count(d.name))
    throw UsageError("--" + d.name + " is set by lstmner-tune itself, not searched");
  if (d.kind == "choice") {
    if (d.values.empty()) throw UsageError("--" + d.name + ": a choice needs at least one value");
    for (const json& v : d.values)
      if (!v.is_number() && !v.is_string() && !v.is_boolean())
        throw UsageError("--" + d.name + ": choice values are numbers, strings or true/false");
    return;
  }
  if (d.kind != "loguniform" && d.kind != "uniform" && d.kind != "int")
    throw UsageError("--" + d.name + ": unknown kind '" + d.kind +
                     "' (loguniform, uniform, int or choice)");
  if (!std::isfinite(d.low) || !std::isfinite(d.high) || d.low > d.high)
    throw UsageError("--" + d.name + ": the range must be LOW:HIGH with LOW <= HIGH");
  if (d.kind == "loguniform" && d.low <= 0)
    throw UsageError("--" + d.name + ": a loguniform range must be positive");
  if (d.kind == "int" && (d.low != std::floor(d.low) || d.high != std::floor(d.high)))
    throw UsageError("--" + d.name + ": an int range has whole bounds");
}

/// A JSON value from a word of a --param choice list: a number, true/false, or a string.
json parse_word(const std::string& word) {
  if (word == "true") return true;
  if (word == "false") return false;
  try {
    std::size_t used = 0;
    const long long i = std::stoll(word, &used);
    if (used == word.size()) return i;
    const double d = std::stod(word, &used);
    if (used == word.size()) return d;
  } catch (const std::exception&) {
  }
  return word;
}

/// "NAME=KIND:ARGS": lr=loguniform:1e-4:1e-2, dropout=uniform:0.2:0.6, hidden=int:50:300,
/// batch-size=choice:16,32,64.
Dimension parse_param(const std::string& spec) {
  const std::size_t eq = spec.find('=');
  const std::size_t colon = spec.find(':', eq == std::string::npos ? 0 : eq);
  if (eq == std::string::npos || colon == std::string::npos)
    throw UsageError("--param '" + spec +
                     "': expected NAME=KIND:ARGS, e.g. lr=loguniform:1e-4:1e-2");
  Dimension d;
  d.name = normalize_name(spec.substr(0, eq));
  d.kind = spec.substr(eq + 1, colon - eq - 1);
  const std::string args = spec.substr(colon + 1);
  if (d.kind == "choice") {
    std::stringstream in(args);
    for (std::string word; std::getline(in, word, ',');) d.values.push_back(parse_word(word));
  } else {
    const std::size_t sep = args.find(':');
    try {
      if (sep == std::string::npos) throw std::invalid_argument("no ':'");
      std::size_t used = 0;
      d.low = std::stod(args.substr(0, sep), &used);
      if (used != sep) throw std::invalid_argument("trailing text");
      const std::string high = args.substr(sep + 1);
      d.high = std::stod(high, &used);
      if (used != high.size()) throw std::invalid_argument("trailing text");
    } catch (const std::exception&) {
      throw UsageError("--param '" + spec + "': expected " + d.kind + ":LOW:HIGH");
    }
  }
  check_dimension(d);
  return d;
}

/// The space file: {"lr": {"loguniform": [1e-4, 1e-2]}, "batch-size": {"choice": [16, 32]}}.
std::vector<Dimension> parse_space(const json& space, const std::string& source) {
  if (!space.is_object()) throw UsageError(source + ": the search space must be a JSON object");
  std::vector<Dimension> out;
  for (const auto& [name, spec] : space.items()) {
    if (!spec.is_object() || spec.size() != 1)
      throw UsageError(source + ": \"" + name +
                       "\" must be one of {\"loguniform\"|\"uniform\"|\"int\": [LOW, HIGH]} or "
                       "{\"choice\": [VALUES]}");
    Dimension d;
    d.name = normalize_name(name);
    d.kind = spec.begin().key();
    const json& args = spec.begin().value();
    if (!args.is_array()) throw UsageError(source + ": \"" + name + "\": expected a list");
    if (d.kind == "choice") {
      d.values = args.get<std::vector<json>>();
    } else {
      if (args.size() != 2 || !args[0].is_number() || !args[1].is_number())
        throw UsageError(source + ": \"" + name + "\": expected [LOW, HIGH]");
      d.low = args[0].get<double>();
      d.high = args[1].get<double>();
    }
    check_dimension(d);
    out.push_back(d);
  }
  return out;
}

/// A value rounded to 4 significant digits, as it appears on the command line.
double round4(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.4g", v);
  return std::strtod(buffer, nullptr);
}

/// A value as an lstmner-train argument (numbers with up to 10 significant digits; drawn
/// values have 4).
std::string value_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<long long>());
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.10g", v.get<double>());
  return buffer;
}

// ----- the search --------------------------------------------------------------------------------

struct Settings {
  std::vector<Dimension> space;  ///< sorted by name
  std::uint64_t seed = 1;
  bool grid = false;
  int trials = 20;
  std::string train, dev, test;
  std::vector<std::string> base_args;
  std::string train_command;
  int jobs = 1, threads = 1;
  int median_after = 3, median_min_trials = 3;
  bool median_stop = true;
  int final_seeds = 0;

  /// What the trials depend on: a resumed search must agree on all of it.
  json identity() const {
    json space_json = json::object();
    for (const Dimension& d : space) space_json[d.name] = dimension_json(d);
    return {{"space", space_json},
            {"seed", seed},
            {"grid", grid},
            {"train", train},
            {"dev", dev},
            {"base_args", base_args},
            {"train_command", train_command}};
  }
  json to_json() const {
    json j = identity();
    j["trials"] = trials;
    j["test"] = test;
    j["jobs"] = jobs;
    j["threads_per_trial"] = threads;
    j["median_stop"] = median_stop;
    j["median_after"] = median_after;
    j["median_min_trials"] = median_min_trials;
    j["final_seeds"] = final_seeds;
    return j;
  }

  /// Trials planned: --trials, or the size of the grid.
  int planned() const {
    if (!grid) return trials;
    long long n = 1;
    for (const Dimension& d : space) n *= static_cast<long long>(d.values.size());
    return static_cast<int>(std::min<long long>(n, INT_MAX));
  }

  std::uint64_t trial_seed(int trial) const {
    return 1 + mix(seed * 0x100000001B3ull + static_cast<std::uint64_t>(trial)) % 999999;
  }

  /// Trial i's configuration: drawn from its own generator (random search), or the i-th point
  /// of the grid (the last dimension varying fastest); independent of every other trial.
  json config(int trial) const {
    json c = json::object();
    if (grid) {
      long long rest = trial;
      for (auto it = space.rbegin(); it != space.rend(); ++it) {
        const auto n = static_cast<long long>(it->values.size());
        c[it->name] = it->values[static_cast<std::size_t>(rest % n)];
        rest /= n;
      }
      return c;
    }
    Random random(mix(seed) ^ mix(0xC0FFEEull + static_cast<std::uint64_t>(trial)));
    for (const Dimension& d : space) {
      if (d.kind == "choice") {
        c[d.name] = d.values[random.below(d.values.size())];
      } else if (d.kind == "int") {
        const auto span = static_cast<std::uint64_t>(d.high - d.low) + 1;
        c[d.name] = static_cast<long long>(d.low) + static_cast<long long>(random.below(span));
      } else if (d.kind == "uniform") {
        c[d.name] = round4(d.low + (d.high - d.low) * random.uniform());
      } else {
        const double lo = std::log(d.low), hi = std::log(d.high);
        c[d.name] = round4(std::exp(lo + (hi - lo) * random.uniform()));
      }
    }
    return c;
  }

  /// lstmner-train's arguments for a configuration (base arguments, then the dimensions; a
  /// true flag is the bare option, a false one is left out).
  std::vector<std::string> config_args(const json& config) const {
    std::vector<std::string> args = base_args;
    for (const auto& [name, v] : config.items()) {
      if (v.is_boolean()) {
        if (v.get<bool>()) args.push_back("--" + name);
        continue;
      }
      args.push_back("--" + name);
      args.push_back(value_text(v));
    }
    return args;
  }
};

/// One run of lstmner-train: a trial, or a final run of the best configuration.
struct Job {
  bool final = false;
  int trial = 0;  ///< the trial, or for a final run the best trial it repeats
  std::uint64_t seed = 0;
  json config;
  fs::path dir;
  std::vector<std::string> argv;
  std::string key() const {
    return final ? "final " + std::to_string(trial) + "/" + std::to_string(seed)
                 : "trial " + std::to_string(trial);
  }
};

std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789-_./=:,+@%") == std::string::npos)
    return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string command_line(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& a : argv) out += (out.empty() ? "" : " ") + shell_quote(a);
  return out;
}

std::optional<json> read_json_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  try {
    return json::parse(in);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

/// Appends one line to a file with a single write(2), so a kill never leaves half a line
/// behind another one.
void append_line(const fs::path& path, const std::string& line) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    throw std::runtime_error("cannot write " + path.string() + ": " + std::strerror(errno));
  const std::string text = line + "\n";
  const ssize_t n = ::write(fd, text.data(), text.size());
  const int saved = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size()))
    throw std::runtime_error("cannot write " + path.string() + ": " + std::strerror(saved));
}

/// The complete lines of a JSON-lines file (a partial last line, from a killed writer, is cut
/// off the file so that the next line starts clean).
std::vector<json> read_jsonl(const fs::path& path) {
  std::vector<json> out;
  std::ifstream in(path, std::ios::binary);
  if (!in) return out;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  const std::size_t complete = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
  if (complete < text.size()) fs::resize_file(path, complete);
  std::size_t start = 0;
  std::size_t line_number = 0;
  while (start < complete) {
    const std::size_t end = text.find('\n', start);
    ++line_number;
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    try {
      out.push_back(json::parse(line));
    } catch (const std::exception& e) {
      throw std::runtime_error(path.string() + ":" + std::to_string(line_number) +
                               ": not a JSON line: " + e.what());
    }
  }
  return out;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/// The best dev F1 over the first `epochs` epochs of a curve.
double best_until(const std::vector<double>& curve, std::size_t epochs) {
  double best = -1;
  for (std::size_t e = 0; e < epochs && e < curve.size(); ++e) best = std::max(best, curve[e]);
  return best;
}

std::string last_lines(const fs::path& path, std::size_t count) {
  std::ifstream in(path, std::ios::binary);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::string out;
  for (std::size_t i = lines.size() > count ? lines.size() - count : 0; i < lines.size(); ++i)
    out += lines[i] + "\n";
  return out;
}

class Tuner {
 public:
  Tuner(Settings settings, fs::path dir) : s_(std::move(settings)), dir_(std::move(dir)) {}

  /// Takes DIR (creating it), checks a resumed search agrees, reads what is done.
  void open() {
    fs::create_directories(dir_ / "trials");
    lock_fd_ = ::open((dir_ / "lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd_ < 0 || ::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0)
      throw std::runtime_error("another lstmner-tune is working in " + dir_.string());
    const fs::path settings_path = dir_ / "settings.json";
    if (const auto old = read_json_file(settings_path)) {
      const json mine = s_.identity();
      for (const auto& [key, value] : mine.items())
        if (!old->contains(key) || old->at(key) != value)
          throw UsageError(dir_.string() + " holds a search with another " + key + " (" +
                           (old->contains(key) ? old->at(key).dump() : "none") + ", now " +
                           value.dump() + "); use a new directory");
    }
    write_file_atomically(settings_path.string(), s_.to_json().dump(2) + "\n");
    for (json& r : read_jsonl(dir_ / "trials.jsonl")) trials_[r.at("trial").get<int>()] = r;
    for (json& r : read_jsonl(dir_ / "final.jsonl")) finals_.push_back(r);
  }

  /// The jobs of the current phase not done yet: trials, then (all trials done) final runs.
  std::vector<Job> pending_jobs() const {
    std::vector<Job> jobs;
    for (int i = 0; i < s_.planned(); ++i)
      if (!trials_.count(i)) jobs.push_back(trial_job(i));
    if (!jobs.empty() || s_.final_seeds <= 0) return jobs;
    const std::optional<int> best = best_trial();
    if (!best) return jobs;
    for (int k = 1; k <= s_.final_seeds; ++k)
      if (!final_record(*best, static_cast<std::uint64_t>(k)))
        jobs.push_back(final_job(*best, static_cast<std::uint64_t>(k)));
    return jobs;
  }

  /// Runs every pending job, --jobs at a time; returns 0, or 128 + signal when interrupted.
  int run() {
    for (int phase = 0; phase < 2; ++phase) {
      std::vector<Job> queue = pending_jobs();
      if (queue.empty()) continue;
      if (queue.front().final) {
        std::cerr << tool << ": retraining trial " << queue.front().trial << " with "
                  << s_.final_seeds << " seeds, scoring test once each\n";
      }
      const int status = run_jobs(queue);
      if (status != 0) return status;
    }
    return 0;
  }

  /// Records the jobs whose results are in their directories (run elsewhere, e.g. by GNU
  /// parallel); returns how many are still missing.
  int collect() {
    int missing = 0;
    for (int phase = 0; phase < 2 && missing == 0; ++phase)
      for (const Job& job : pending_jobs())
        if (!already_done(job)) ++missing;
    return missing;
  }

  /// The commands of the pending jobs, one shell command per line.
  std::string commands() {
    std::string out;
    for (const Job& job : pending_jobs()) {
      fs::create_directories(job.dir);
      out += command_line(job.argv) + " >" + shell_quote((job.dir / "stdout.txt").string()) +
             " 2>" + shell_quote((job.dir / "stderr.txt").string()) + "\n";
    }
    return out;
  }

  /// summary.json, summary.txt and (report) report.html; the text summary is returned.
  std::string write_summary(bool report) {
    json summary;
    summary["settings"] = s_.to_json();
    summary["trials"] = json::array();
    int ok = 0, stopped = 0, failed = 0;
    for (const auto& [i, r] : trials_) {
      summary["trials"].push_back(r);
      const std::string status = r.at("status").get<std::string>();
      ok += status == "ok";
      stopped += status == "stopped";
      failed += status == "failed";
    }
    const int total = s_.planned();
    summary["counts"] = {{"total", total},
                         {"finished", ok},
                         {"stopped", stopped},
                         {"failed", failed},
                         {"pending", total - static_cast<int>(trials_.size())}};
    std::string text;
    char line[512];
    std::snprintf(line, sizeof line,
                  "%d of %d trials done: %d finished, %d stopped by the median rule, %d failed\n",
                  static_cast<int>(trials_.size()), total, ok, stopped, failed);
    text += line;

    // The table, best first.
    std::vector<const json*> order;
    for (const auto& [i, r] : trials_) order.push_back(&r);
    auto f1 = [](const json* r) {
      return r->contains("best_dev_f1") && r->at("best_dev_f1").is_number()
                 ? r->at("best_dev_f1").get<double>()
                 : -1.0;
    };
    std::stable_sort(order.begin(), order.end(),
                     [&](const json* a, const json* b) { return f1(a) > f1(b); });
    std::string header = "rank  trial  status    dev F1  epoch  epochs  seconds";
    for (const Dimension& d : s_.space) header += "  --" + d.name;
    text += "\n" + header + "\n";
    for (std::size_t k = 0; k < order.size(); ++k) {
      const json& r = *order[k];
      std::snprintf(
          line, sizeof line, "%4zu  %5d  %-7s  %7s  %5s  %6d  %7.1f", k + 1,
          r.at("trial").get<int>(), r.at("status").get<std::string>().c_str(),
          f1(&r) >= 0 ? report::fixed(f1(&r), 2).c_str() : "-",
          r.value("best_epoch", 0) > 0 ? std::to_string(r.value("best_epoch", 0)).c_str() : "-",
          r.value("epochs_run", 0), r.value("seconds", 0.0));
      text += line;
      for (const Dimension& d : s_.space) {
        const json& v = r.at("config").contains(d.name) ? r.at("config").at(d.name) : json();
        const std::string shown = v.is_boolean() ? v.dump() : v.is_null() ? "-" : value_text(v);
        const std::size_t width = d.name.size() + 2;
        text += "  " + std::string(width > shown.size() ? width - shown.size() : 0, ' ') + shown;
      }
      text += "\n";
    }

    if (const std::optional<int> best = best_trial()) {
      const json& r = trials_.at(*best);
      std::vector<std::string> argv = {"lstmner-train"};
      for (const std::string& a : data_args(true)) argv.push_back(a);
      for (const std::string& a : s_.config_args(r.at("config"))) argv.push_back(a);
      argv.insert(argv.end(), {"--seed", std::to_string(r.at("seed").get<std::uint64_t>()),
                               "--model", "best.model"});
      summary["best"] = {{"trial", *best},
                         {"best_dev_f1", r.at("best_dev_f1")},
                         {"best_epoch", r.at("best_epoch")},
                         {"seed", r.at("seed")},
                         {"config", r.at("config")},
                         {"command", command_line(argv)}};
      std::snprintf(line, sizeof line, "\nbest: trial %d, dev F1 %.2f at epoch %d\n", *best,
                    r.at("best_dev_f1").get<double>(), r.at("best_epoch").get<int>());
      text += line;
      text += command_line(argv) + "\n";

      std::vector<const json*> runs;
      for (const json& f : finals_)
        if (f.at("trial").get<int>() == *best && f.at("status") == "ok") runs.push_back(&f);
      if (!runs.empty()) {
        json final = {{"trial", *best}, {"runs", json::array()}};
        std::vector<double> dev, test;
        for (const json* f : runs) {
          final["runs"].push_back(*f);
          dev.push_back(f->at("best_dev_f1").get<double>());
          if (f->contains("test_f1") && f->at("test_f1").is_number())
            test.push_back(f->at("test_f1").get<double>());
        }
        auto mean = [](const std::vector<double>& v) {
          double s = 0;
          for (double x : v) s += x;
          return v.empty() ? 0.0 : s / static_cast<double>(v.size());
        };
        auto sd = [&](const std::vector<double>& v) -> json {
          if (v.size() < 2) return nullptr;
          const double m = mean(v);
          double s = 0;
          for (double x : v) s += (x - m) * (x - m);
          return std::sqrt(s / static_cast<double>(v.size() - 1));
        };
        final["dev_f1_mean"] = mean(dev);
        final["dev_f1_sd"] = sd(dev);
        if (!test.empty()) {
          final["test_f1_mean"] = mean(test);
          final["test_f1_sd"] = sd(test);
        }
        summary["final"] = final;
        auto pm = [](const json& m, const json& sd) {
          return report::fixed(m.get<double>(), 2) +
                 (sd.is_number() ? " +- " + report::fixed(sd.get<double>(), 2) : "");
        };
        text += "\nretrained with " + std::to_string(runs.size()) + " seeds: dev F1 " +
                pm(final["dev_f1_mean"], final["dev_f1_sd"]);
        if (!test.empty())
          text += ", test F1 " + pm(final["test_f1_mean"], final["test_f1_sd"]) +
                  " (mean +- sd; test scored once per seed)";
        text += "\n";
      }
    }
    write_file_atomically((dir_ / "summary.json").string(), summary.dump(2) + "\n");
    write_file_atomically((dir_ / "summary.txt").string(), text);
    if (report) write_file_atomically((dir_ / "report.html").string(), report::tune_page(summary));
    return text;
  }

  bool any_trial_usable() const { return best_trial().has_value(); }
  bool all_failed() const {
    if (trials_.empty()) return false;
    for (const auto& [i, r] : trials_)
      if (r.at("status") != "failed") return false;
    return true;
  }

 private:
  struct Running {
    Job job;
    pid_t pid = -1;
    int lock_fd = -1;
    std::chrono::steady_clock::time_point started;
    std::vector<double> curve;  ///< dev F1 per epoch so far
    std::size_t progress_offset = 0;
    std::string partial;
    bool stopped_by_rule = false;
  };

  std::vector<std::string> data_args(bool with_test) const {
    std::vector<std::string> args = {"--train", s_.train, "--dev", s_.dev};
    if (with_test && !s_.test.empty()) args.insert(args.end(), {"--test", s_.test});
    return args;
  }

  Job make_job(bool final, int trial, std::uint64_t seed, const json& config,
               const fs::path& dir) const {
    Job job{final, trial, seed, config, dir, {}};
    job.argv.push_back(s_.train_command);
    for (const std::string& a : data_args(final)) job.argv.push_back(a);
    for (const std::string& a : s_.config_args(config)) job.argv.push_back(a);
    job.argv.insert(
        job.argv.end(),
        {"--seed", std::to_string(seed), "--threads", std::to_string(s_.threads), "--metrics-json",
         (dir / "metrics.json").string(), "--progress", (dir / "progress.jsonl").string(), "-q"});
    if (final) job.argv.insert(job.argv.end(), {"--model", (dir / "model").string()});
    return job;
  }

  Job trial_job(int i) const {
    char name[32];
    std::snprintf(name, sizeof name, "%04d", i);
    return make_job(false, i, s_.trial_seed(i), s_.config(i), dir_ / "trials" / name);
  }

  Job final_job(int best, std::uint64_t seed) const {
    char name[64];
    std::snprintf(name, sizeof name, "trial-%04d-seed-%llu", best,
                  static_cast<unsigned long long>(seed));
    return make_job(true, best, seed, trials_.at(best).at("config"), dir_ / "final" / name);
  }

  std::optional<int> best_trial() const {
    std::optional<int> best;
    double best_f1 = -1;
    for (const auto& [i, r] : trials_) {
      if (r.at("status") == "failed" || !r.contains("best_dev_f1") ||
          !r.at("best_dev_f1").is_number())
        continue;
      const double f = r.at("best_dev_f1").get<double>();
      if (f > best_f1) {
        best_f1 = f;
        best = i;
      }
    }
    return best;
  }

  const json* final_record(int trial, std::uint64_t seed) const {
    for (const json& f : finals_)
      if (f.at("trial").get<int>() == trial && f.at("seed").get<std::uint64_t>() == seed) return &f;
    return nullptr;
  }

  /// Writes the job's line (trials.jsonl or final.jsonl) from its metrics.json.
  void record(const Job& job, const std::string& status, int exit_code,
              std::optional<double> seconds) {
    json r = {{"trial", job.trial}, {"seed", job.seed},       {"config", job.config},
              {"status", status},   {"exit_code", exit_code}, {"dir", job.dir.string()}};
    const auto metrics = read_json_file(job.dir / "metrics.json");
    std::vector<double> curve;
    if (metrics) {
      for (const json& e : metrics->value("epochs", json::array()))
        curve.push_back(e.at("dev_f1").get<double>());
      r["best_epoch"] = metrics->value("best_epoch", 0);
      r["best_dev_f1"] = metrics->value("best_dev_f1", -1.0);
      if (!seconds) seconds = metrics->value("total_seconds", 0.0);
      if (metrics->contains("test"))
        r["test_f1"] = 100.0 * metrics->at("test").at("micro").at("f1").get<double>();
    } else {
      r["best_epoch"] = 0;
      r["best_dev_f1"] = nullptr;
    }
    if (status == "failed") {
      r["best_dev_f1"] = nullptr;
      r["error"] = last_lines(job.dir / "stderr.txt", 5);
    }
    r["dev_f1"] = curve;
    r["epochs_run"] = curve.size();
    r["seconds"] = seconds.value_or(0.0);
    if (job.final) {
      r["model"] = (job.dir / "model").string();
      append_line(dir_ / "final.jsonl", r.dump());
      finals_.push_back(r);
    } else {
      append_line(dir_ / "trials.jsonl", r.dump());
      trials_[job.trial] = r;
    }
    std::string what = job.key() + ": " + status;
    if (r["best_dev_f1"].is_number()) {
      char buffer[128];
      std::snprintf(buffer, sizeof buffer, ", dev F1 %.2f at epoch %d (%zu epochs, %.1f s)",
                    r["best_dev_f1"].get<double>(), r["best_epoch"].get<int>(), curve.size(),
                    r["seconds"].get<double>());
      what += buffer;
    }
    if (r.contains("test_f1")) what += ", test F1 " + report::fixed(r["test_f1"].get<double>(), 2);
    if (status == "failed")
      what += " (exit " + std::to_string(exit_code) + "; see " + (job.dir / "stderr.txt").string() +
              ")";
    std::cerr << tool << ": " << what << "\n";
  }

  /// Takes the job's lock. Returns false when a process still holds it (a trial started by an
  /// earlier lstmner-tune that was killed): the job waits.
  bool lock(Running& r) {
    fs::create_directories(r.job.dir);
    r.lock_fd = ::open((r.job.dir / "lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (r.lock_fd < 0)
      throw std::runtime_error("cannot open " + (r.job.dir / "lock").string() + ": " +
                               std::strerror(errno));
    if (::flock(r.lock_fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(r.lock_fd);
      r.lock_fd = -1;
      return false;
    }
    return true;
  }

  void start(Running& r) {
    for (const char* f : {"metrics.json", "progress.jsonl", "stopped_by_median_rule"})
      fs::remove(r.job.dir / f);
    const std::string out = (r.job.dir / "stdout.txt").string();
    const std::string err = (r.job.dir / "stderr.txt").string();
    {
      std::ofstream command(r.job.dir / "command.txt");
      command << command_line(r.job.argv) << "\n";
    }
    std::vector<char*> argv;
    for (std::string& a : r.job.argv) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0)
      throw std::runtime_error(std::string("cannot start a trial: ") + std::strerror(errno));
    if (pid == 0) {
      // The child: its own output files, no input, and a copy of the job's lock without
      // close-on-exec, so that the lock is held for as long as the trial runs.
      const int in = ::open("/dev/null", O_RDONLY);
      const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (in < 0 || o < 0 || e < 0) ::_exit(126);
      ::dup2(in, 0);
      ::dup2(o, 1);
      ::dup2(e, 2);
      if (::dup(r.lock_fd) < 0) ::_exit(126);
      ::signal(SIGTERM, SIG_DFL);
      ::signal(SIGINT, SIG_DFL);
      ::execvp(argv[0], argv.data());
      const char* message = "lstmner-tune: error: cannot run the trial command\n";
      if (::write(2, message, std::strlen(message)) < 0) ::_exit(127);
      ::_exit(127);
    }
    r.pid = pid;
    r.started = std::chrono::steady_clock::now();
    std::string dims;
    for (const auto& [name, v] : r.job.config.items())
      dims += " --" + name + " " + (v.is_boolean() ? v.dump() : value_text(v));
    std::cerr << tool << ": " << r.job.key() << " started (seed " << r.job.seed << ";" << dims
              << ")\n";
  }

  /// Reads the trial's new progress lines into its curve.
  void poll_progress(Running& r) {
    std::ifstream in(r.job.dir / "progress.jsonl", std::ios::binary);
    if (!in) return;
    in.seekg(static_cast<std::streamoff>(r.progress_offset));
    std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    r.progress_offset += chunk.size();
    r.partial += chunk;
    std::size_t newline;
    while ((newline = r.partial.find('\n')) != std::string::npos) {
      const std::string line = r.partial.substr(0, newline);
      r.partial.erase(0, newline + 1);
      try {
        r.curve.push_back(json::parse(line).at("dev_f1").get<double>());
      } catch (const std::exception&) {
        // not a progress line: ignore it
      }
    }
  }

  /// The median stopping rule at the trial's latest epoch e: stop it when its best dev F1 over
  /// epochs 1..e is below the median of the same figure of every other trial that reached e
  /// (done, stopped or running), given at least median_min_trials of them.
  void apply_median_rule(Running& r, const std::vector<Running>& running, std::size_t checked) {
    if (!s_.median_stop || r.job.final || r.stopped_by_rule) return;
    for (std::size_t e = checked + 1; e <= r.curve.size(); ++e) {
      if (static_cast<int>(e) < s_.median_after) continue;
      std::vector<double> others;
      for (const auto& [i, rec] : trials_) {
        if (rec.at("status") == "failed") continue;
        const auto curve = rec.at("dev_f1").get<std::vector<double>>();
        if (curve.size() >= e) others.push_back(best_until(curve, e));
      }
      for (const Running& o : running)
        if (&o != &r && !o.job.final && o.curve.size() >= e)
          others.push_back(best_until(o.curve, e));
      if (static_cast<int>(others.size()) < s_.median_min_trials) continue;
      const double mine = best_until(r.curve, e), m = median(others);
      if (mine < m) {
        std::ofstream(r.job.dir / "stopped_by_median_rule")
            << "epoch " << e << ": best dev F1 " << mine << " < median " << m << "\n";
        r.stopped_by_rule = true;
        ::kill(r.pid, SIGTERM);
        char buffer[160];
        std::snprintf(buffer, sizeof buffer,
                      ": stopping at epoch %zu, best dev F1 %.2f below the median %.2f of %zu "
                      "trials\n",
                      e, mine, m, others.size());
        std::cerr << tool << ": " << r.job.key() << buffer;
        return;
      }
    }
  }

  /// A job whose lock was free: maybe its result is already there (a trial that outlived a
  /// killed lstmner-tune, or a run made elsewhere), so it is recorded, not run again.
  bool already_done(const Job& job) {
    const auto metrics = read_json_file(job.dir / "metrics.json");
    if (!metrics) return false;
    if (!metrics->value("interrupted", false)) {
      record(job, "ok", 0, std::nullopt);
      return true;
    }
    if (fs::exists(job.dir / "stopped_by_median_rule")) {
      record(job, "stopped", 128 + SIGTERM, std::nullopt);
      return true;
    }
    return false;
  }

  int run_jobs(std::vector<Job> queue) {
    std::vector<Running> running;
    std::vector<std::size_t> checked;  // epochs already seen by the median rule, per running
    bool said_waiting = false;
    while (!queue.empty() || !running.empty()) {
      if (stop_signal != 0) {
        std::cerr << tool << ": interrupted; stopping " << running.size()
                  << " running trials (they will run again when the search resumes)\n";
        for (Running& r : running) ::kill(r.pid, SIGTERM);
        // lstmner-train stops after its current batch; one that has not within 30 s is killed.
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        for (Running& r : running) {
          int status = 0;
          while (::waitpid(r.pid, &status, WNOHANG) == 0) {
            if (std::chrono::steady_clock::now() > deadline) ::kill(r.pid, SIGKILL);
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
          }
          ::close(r.lock_fd);
        }
        return 128 + static_cast<int>(stop_signal);
      }
      // Reap.
      for (std::size_t k = 0; k < running.size();) {
        int status = 0;
        const pid_t done = ::waitpid(running[k].pid, &status, WNOHANG);
        if (done != running[k].pid) {
          ++k;
          continue;
        }
        Running& r = running[k];
        if (stop_signal != 0) {  // interrupted with the tuner: run again on resume, not recorded
          ::close(r.lock_fd);
          running.erase(running.begin() + static_cast<std::ptrdiff_t>(k));
          checked.erase(checked.begin() + static_cast<std::ptrdiff_t>(k));
          continue;
        }
        poll_progress(r);
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - r.started).count();
        const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        const auto metrics = read_json_file(r.job.dir / "metrics.json");
        const bool complete = metrics && !metrics->value("interrupted", false) && code == 0;
        const std::string verdict = complete ? "ok" : r.stopped_by_rule ? "stopped" : "failed";
        record(r.job, verdict, code, seconds);
        ::close(r.lock_fd);
        running.erase(running.begin() + static_cast<std::ptrdiff_t>(k));
        checked.erase(checked.begin() + static_cast<std::ptrdiff_t>(k));
      }
      // Progress and the median rule.
      for (std::size_t k = 0; k < running.size(); ++k) {
        poll_progress(running[k]);
        apply_median_rule(running[k], running, checked[k]);
        checked[k] = running[k].curve.size();
      }
      // Start.
      bool waiting = false;
      for (std::size_t q = 0; q < queue.size() && static_cast<int>(running.size()) < s_.jobs;) {
        Running r;
        r.job = queue[q];
        if (!lock(r)) {
          waiting = true;
          ++q;
          continue;
        }
        queue.erase(queue.begin() + static_cast<std::ptrdiff_t>(q));
        if (already_done(r.job)) {
          ::close(r.lock_fd);
          continue;
        }
        start(r);
        running.push_back(std::move(r));
        checked.push_back(0);
      }
      if (waiting && !said_waiting) {
        std::cerr << tool << ": waiting for trials still run by an earlier lstmner-tune\n";
        said_waiting = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return 0;
  }

  Settings s_;
  fs::path dir_;
  int lock_fd_ = -1;
  std::map<int, json> trials_;
  std::vector<json> finals_;
};

fs::path default_train_command() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path beside = self.parent_path() / "lstmner-train";
    if (fs::exists(beside)) return beside;
  }
  return "lstmner-train";
}

int run(int argc, char** argv) {
  CLI::App app{
      "lstmner-tune: random or grid search over lstmner-train's options (objective: "
      "dev F1)"};
  Settings s;
  std::string dir, data, space_file;
  std::vector<std::string> params;
  std::string train_command;
  bool print_commands = false, collect = false, report = false;
  int threads = 0;
  app.add_option("--dir", dir, "Output directory; running again with it resumes the search")
      ->required();
  app.add_option("--data", data,
                 "Directory with train.txt and valid.txt (and test.txt for --final-seeds; "
                 "default: $LSTMNER_DATA)");
  app.add_option("--train", s.train, "Training file (instead of --data)");
  app.add_option("--dev", s.dev, "Development file: the objective is its F1");
  app.add_option("--test", s.test, "Test file, scored once by each --final-seeds run");
  app.add_option("--space", space_file,
                 "Search space as JSON: {\"lr\": {\"loguniform\": [1e-4, 1e-2]}, "
                 "\"batch-size\": {\"choice\": [16, 32, 64]}, ...}");
  app.add_option("--param", params,
                 "A dimension NAME=KIND:ARGS (repeatable): lr=loguniform:1e-4:1e-2, "
                 "dropout=uniform:0.2:0.6, hidden=int:50:300, batch-size=choice:16,32,64")
      ->allow_extra_args(false);
  app.add_option("--trials", s.trials, "Random search: number of trials (default 20)")
      ->check(CLI::Range(1, 1000000));
  app.add_flag("--grid", s.grid, "Grid search over every combination of the choice dimensions");
  app.add_option("--seed", s.seed,
                 "Seed of the search: trial configurations and seeds (default 1)");
  app.add_option("--jobs", s.jobs, "Trials run at once (default 1)")->check(CLI::Range(1, 1024));
  app.add_option("--threads-per-trial", threads,
                 "lstmner-train --threads of each trial (default: cores / jobs, at least 1)")
      ->check(CLI::Range(1, 1024));
  app.add_option("--median-after", s.median_after,
                 "Median stopping rule from this epoch on (default 3)")
      ->check(CLI::Range(1, 100000));
  app.add_option("--median-min-trials", s.median_min_trials,
                 "Trials that must have reached an epoch before the rule applies there "
                 "(default 3)")
      ->check(CLI::Range(1, 100000));
  app.add_flag("!--no-median-stop", s.median_stop, "Never stop a trial early");
  app.add_option("--final-seeds", s.final_seeds,
                 "Retrain the best configuration with seeds 1..K and score test once each")
      ->check(CLI::Range(0, 1000));
  app.add_flag("--report", report, "Write DIR/report.html");
  app.add_option("--train-command", train_command,
                 "The trial program (default: lstmner-train beside lstmner-tune)");
  app.add_flag("--print-commands", print_commands,
               "Print the commands of the trials not yet done, one per line (for GNU "
               "parallel), and run nothing");
  app.add_flag("--collect", collect,
               "Record the results of trials run elsewhere (e.g. by GNU parallel); run nothing");
  std::vector<std::string> base_args;
  app.add_option("args", base_args, "After --: options given to every trial's lstmner-train");
  app.set_version_flag("--version", std::string("lstmner-tune ") + lstmner::version_string);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << tool << ": error: " << e.what() << "\nRun with --help for more information.\n";
    return 2;
  }

  try {
    if (print_commands && collect)
      throw UsageError("--print-commands and --collect exclude each other");
    if (s.grid && app.count("--trials") > 0)
      throw UsageError("--grid runs the whole grid: no --trials");
    if (!space_file.empty()) {
      std::ifstream in(space_file, std::ios::binary);
      if (!in) throw std::runtime_error("cannot open " + space_file + ": " + std::strerror(errno));
      json space;
      try {
        space = json::parse(in);
      } catch (const json::parse_error& e) {
        throw std::runtime_error(space_file + ": not JSON: " + e.what());
      }
      s.space = parse_space(space, space_file);
    }
    for (const std::string& p : params) s.space.push_back(parse_param(p));
    std::sort(s.space.begin(), s.space.end(),
              [](const Dimension& a, const Dimension& b) { return a.name < b.name; });
    for (std::size_t i = 1; i < s.space.size(); ++i)
      if (s.space[i].name == s.space[i - 1].name)
        throw UsageError("--" + s.space[i].name + " is in the search space twice");
    // Without a search space, DIR's own settings: `lstmner-tune --dir DIR` resumes a search
    // (options given now still apply: --jobs, --trials, --final-seeds, the median rule).
    const std::optional<json> saved = read_json_file(fs::path(dir) / "settings.json");
    if (s.space.empty() && saved) {
      const json& j = *saved;
      for (const auto& [name, d] : j.at("space").items()) {
        Dimension dim{name, d.at("kind").get<std::string>(), 0, 0, {}};
        if (dim.kind == "choice") {
          dim.values = d.at("values").get<std::vector<json>>();
        } else {
          dim.low = d.at("low").get<double>();
          dim.high = d.at("high").get<double>();
        }
        s.space.push_back(dim);
      }
      if (app.count("--seed") == 0) s.seed = j.at("seed").get<std::uint64_t>();
      if (app.count("--grid") == 0) s.grid = j.at("grid").get<bool>();
      if (data.empty() && s.train.empty()) s.train = j.at("train").get<std::string>();
      if (data.empty() && s.dev.empty()) s.dev = j.at("dev").get<std::string>();
      if (data.empty() && s.test.empty()) s.test = j.value("test", std::string());
      if (base_args.empty()) base_args = j.at("base_args").get<std::vector<std::string>>();
      if (train_command.empty()) train_command = j.at("train_command").get<std::string>();
      if (app.count("--trials") == 0) s.trials = j.value("trials", s.trials);
      if (app.count("--jobs") == 0) s.jobs = j.value("jobs", s.jobs);
      if (app.count("--final-seeds") == 0) s.final_seeds = j.value("final_seeds", 0);
      if (app.count("--no-median-stop") == 0) s.median_stop = j.value("median_stop", true);
      if (app.count("--median-after") == 0) s.median_after = j.value("median_after", 3);
      if (app.count("--median-min-trials") == 0)
        s.median_min_trials = j.value("median_min_trials", 3);
    }
    if (s.space.empty()) throw UsageError("no search space: give --space FILE or --param");
    if (s.grid)
      for (const Dimension& d : s.space)
        if (d.kind != "choice")
          throw UsageError("--grid needs choice dimensions only; --" + d.name + " is " + d.kind);
    for (std::size_t i = 0; i < base_args.size(); ++i) {
      const std::string& a = base_args[i];
      if (a.rfind("-", 0) != 0) continue;
      std::string name = normalize_name(a.substr(0, a.find('=')));
      Dimension probe{name, "choice", 0, 0, {json(1)}};
      check_dimension(probe);  // rejects the options lstmner-tune sets itself
      for (const Dimension& d : s.space)
        if (d.name == name) throw UsageError("--" + name + " is both searched and given after --");
    }
    s.base_args = base_args;

    if (data.empty() && s.train.empty())
      if (const char* env = std::getenv("LSTMNER_DATA")) data = env;
    if (!data.empty()) {
      if (s.train.empty()) s.train = (fs::path(data) / "train.txt").string();
      if (s.dev.empty()) s.dev = (fs::path(data) / "valid.txt").string();
      if (s.test.empty()) s.test = (fs::path(data) / "test.txt").string();
    }
    if (s.train.empty() || s.dev.empty())
      throw UsageError("no data: give --data DIR (or LSTMNER_DATA), or --train and --dev");
    if (s.final_seeds > 0 && s.test.empty())
      throw UsageError("--final-seeds scores the test set: give --test or --data");
    s.train_command = train_command.empty() ? default_train_command().string() : train_command;
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    s.threads = threads > 0 ? threads : std::max(1, static_cast<int>(cores) / s.jobs);

    Tuner tuner(s, dir);
    tuner.open();
    if (print_commands) {
      std::cout << tuner.commands();
      return 0;
    }
    if (collect) {
      const int missing = tuner.collect();
      std::cout << tuner.write_summary(report);
      if (missing > 0) std::cerr << tool << ": " << missing << " runs have no results yet\n";
      return 0;
    }
    std::signal(SIGTERM, request_stop);
    std::signal(SIGINT, request_stop);
    const int status = tuner.run();
    std::cout << tuner.write_summary(report);
    if (status != 0) return status;
    if (tuner.all_failed()) {
      std::cerr << tool << ": error: every trial failed; see the stderr.txt of the trials in "
                << (fs::path(dir) / "trials").string() << "\n";
      return 1;
    }
    return 0;
  } catch (const UsageError& e) {
    std::cerr << tool << ": error: " << e.what() << "\nRun with --help for more information.\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << tool << ": error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  return run(argc, argv);
}
