// Argument checks shared by the bench programs. Each takes a few flags or positional numbers;
// `--help` (or `-h`) prints its usage, and an argument it does not know is refused with the usage
// (exit 2): a mistyped flag never starts a minute-long run that measures something else.
#ifndef PULSE_BENCH_BENCH_ARGS_H_
#define PULSE_BENCH_BENCH_ARGS_H_

#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <optional>

namespace pulse::bench {

// nullopt: go on. Otherwise the exit code main should return. `flags` are the switches the
// program knows ("--quick"); anything else not starting with '-' counts as positional, allowed
// up to `max_positional` (-1: any number). `usage` is printed after "usage: PROGRAM ".
inline std::optional<int> CheckArgs(int argc, char** argv, std::initializer_list<const char*> flags,
                                    int max_positional, const char* usage) {
  int positional = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::printf("usage: %s %s\n", argv[0], usage);
      return 0;
    }
    bool known = false;
    for (const char* flag : flags) known |= std::strcmp(argv[i], flag) == 0;
    if (!known && argv[i][0] != '-' && (max_positional < 0 || positional < max_positional)) {
      ++positional;
      known = true;
    }
    if (!known) {
      std::fprintf(stderr, "%s: unknown argument '%s'\nusage: %s %s\n", argv[0], argv[i], argv[0],
                   usage);
      return 2;
    }
  }
  return std::nullopt;
}

}  // namespace pulse::bench

#endif  // PULSE_BENCH_BENCH_ARGS_H_
