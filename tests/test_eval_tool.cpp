// Runs the lstmner-eval tool on the files in tests/data/eval and compares its output byte for
// byte with the expected outputs committed next to them (written by hand from conlleval's and
// seqeval's rules; tests/data/eval/README.md derives each one).

#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace {

struct Run {
  std::string out;
  int status = -1;
};

/// Runs lstmner-eval with `arguments` (a shell fragment); stdout captured, stderr to `err_file`.
Run run_tool(const std::string& arguments, const std::string& err_file = "/dev/null") {
  const std::string command =
      std::string("'") + LSTMNER_EVAL_TOOL + "' " + arguments + " 2>'" + err_file + "'";
  Run run;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) run.out.append(buffer, n);
  const int status = pclose(pipe);
  run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

std::string eval_file(const std::string& name) {
  return lstmner_test::test_data("eval/" + name).string();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE("lstmner-eval prints conlleval's report byte for byte") {
  for (const char* name : {"ill_formed", "iobes", "odd_tags"}) {
    INFO(name);
    const std::string input = eval_file(std::string(name) + ".txt");
    const std::string expected = read_file(eval_file(std::string(name) + ".conlleval.out"));
    const Run from_file = run_tool("'" + input + "'");
    REQUIRE(from_file.status == 0);
    REQUIRE(from_file.out == expected);
    const Run from_stdin = run_tool("- < '" + input + "'");
    REQUIRE(from_stdin.status == 0);
    REQUIRE(from_stdin.out == expected);
  }
}

TEST_CASE("lstmner-eval prints seqeval's classification report and JSON") {
  Run run = run_tool("'" + eval_file("iobes.txt") + "' --format seqeval");
  REQUIRE(run.status == 0);
  REQUIRE(run.out == read_file(eval_file("iobes.seqeval.out")));
  run = run_tool("'" + eval_file("ill_formed.txt") +
                 "' --format seqeval --mode strict --scheme iob2");
  REQUIRE(run.status == 0);
  REQUIRE(run.out == read_file(eval_file("ill_formed.strict_iob2.out")));
  run = run_tool("'" + eval_file("iobes.txt") + "' --format json --mode seqeval");
  REQUIRE(run.status == 0);
  REQUIRE(run.out == read_file(eval_file("iobes.seqeval.json")));
}

TEST_CASE("lstmner-eval fails with file and line where conlleval fails, and on bad options") {
  const std::string err = "lstmner_eval_test_stderr.txt";  // in the working directory
  Run run = run_tool("'" + eval_file("bad_count.txt") + "'", err);
  REQUIRE(run.status == 1);
  REQUIRE(run.out.empty());
  REQUIRE(read_file(err) ==
          "lstmner-eval: error: lstmner: read_prediction_file: " + eval_file("bad_count.txt") +
              ":2: unexpected number of features: 2 (3)\n");
  run = run_tool("'" + eval_file("one_field.txt") + "'", err);
  REQUIRE(run.status == 1);
  REQUIRE(read_file(err) ==
          "lstmner-eval: error: lstmner: read_prediction_file: " + eval_file("one_field.txt") +
              ":1: unexpected number of features in line one\n");
  run = run_tool("'" + eval_file("no_such_file.txt") + "'", err);
  REQUIRE(run.status == 1);
  REQUIRE(read_file(err) == "lstmner-eval: error: cannot open '" + eval_file("no_such_file.txt") +
                                "': No such file or directory\n");
  REQUIRE(run_tool("--format xml").status != 0);
  REQUIRE(run_tool("'" + eval_file("iobes.txt") + "' --scheme iobes").status == 2);
  std::remove(err.c_str());
}
