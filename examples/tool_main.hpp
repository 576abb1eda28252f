#pragma once
// The command-line conventions every lstmner tool follows (docs/tools.md), in one place:
//   - `--version` prints "lstmner-<tool> <version>" and exits 0; `--help` prints the options.
//   - A bad command line (an unknown option, a missing or malformed value, options that do not
//     go together) prints "lstmner-<tool>: error: <what>" and "Run with --help for more
//     information." on standard error and exits 2.
//   - Any other failure (bad input, a broken model file, a failed write) prints
//     "lstmner-<tool>: error: <what>" on standard error and exits 1 — never a crash or an
//     uncaught exception. A file that cannot be opened is reported with the system's reason.
//   - --scheme takes iob1, iob2 (bio) or iobes in any letter case.
//
//   int run(int argc, char** argv) {
//     CLI::App app{"..."};
//     ... add options ...
//     parse_command_line(app, "lstmner-foo", argc, argv);
//     if (bad combination) throw UsageError("--x only applies with --y");
//     ...
//   }
//   int main(int argc, char** argv) { return run_tool("lstmner-foo", argc, argv, run); }

#include <lstmner/version.hpp>

#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>
#include <stdexcept>
#include <string>

/// A command-line mistake found by the tool itself: exit status 2, with the usage hint.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Thrown after --help or --version has printed what was asked: the tool exits with `code`.
struct ToolExit {
  int code = 0;
};

/// Adds --version and parses; a bad command line becomes a UsageError, --help and --version a
/// ToolExit after printing.
inline void parse_command_line(CLI::App& app, const std::string& name, int argc, char** argv) {
  app.set_version_flag("--version", name + " " + lstmner::version_string);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    throw ToolExit{app.exit(e)};
  } catch (const CLI::CallForAllHelp& e) {
    throw ToolExit{app.exit(e)};
  } catch (const CLI::CallForVersion& e) {
    throw ToolExit{app.exit(e)};
  } catch (const CLI::ParseError& e) {
    throw UsageError(e.what());
  }
}

/// Runs a tool's main function under the conventions above.
template <class Run>
int run_tool(const char* name, int argc, char** argv, Run&& run) {
  try {
    return run(argc, argv);
  } catch (const ToolExit& e) {
    return e.code;
  } catch (const UsageError& e) {
    std::cerr << name << ": error: " << e.what() << "\nRun with --help for more information.\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << name << ": error: " << e.what() << "\n";
    return 1;
  }
}
