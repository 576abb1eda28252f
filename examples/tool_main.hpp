#pragma once
// The shared entry point of lstmner's command-line tools: every error the library reports (bad
// input, a broken model file, a failed write) becomes one line on standard error, prefixed with
// the tool's name, and exit code 1 — never a crash or an uncaught exception.

#include <exception>
#include <iostream>

template <class Run>
int run_tool(const char* name, int argc, char** argv, Run&& run) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << name << ": error: " << e.what() << "\n";
    return 1;
  }
}
