// Shell helpers of the tests that drive a real Open vSwitch (ovs-vsctl, ovs-ofctl, ovs-appctl).
#ifndef PULSE_TESTS_SOUTHBOUND_OPENFLOW_OVS_SHELL_H_
#define PULSE_TESTS_SOUTHBOUND_OPENFLOW_OVS_SHELL_H_

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>
#include <utility>

namespace pulse::testing {

// Runs `command` in /bin/sh; returns its exit code (-1 if it did not exit) and stdout+stderr.
inline std::pair<int, std::string> RunShell(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(("{ " + command + "\n} 2>&1").c_str(), "r");
  if (pipe == nullptr) return {-1, "popen failed"};
  std::array<char, 4096> buf;
  while (size_t n = std::fread(buf.data(), 1, buf.size(), pipe)) out.append(buf.data(), n);
  int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// True when Open vSwitch answers, starting it with ovs-ctl if needed; else false with the reason.
// The daemons are started with every descriptor above stderr closed: they outlive the test, and
// one inherited from the test's runner (a `flock` on the machine's network lock, say) would be
// held by them for ever.
inline bool EnsureOvs(std::string* why) {
  if (RunShell("ovs-vsctl --timeout=3 show").first == 0) return true;
  auto [rc, out] = RunShell(
      "bash -c 'for fd in /proc/$$/fd/*; do n=${fd##*/}; [ \"$n\" -gt 2 ] && "
      "eval \"exec $n>&-\" 2>/dev/null; done; "
      "exec /usr/share/openvswitch/scripts/ovs-ctl start --system-id=random'");
  if (RunShell("ovs-vsctl --timeout=5 show").first == 0) return true;
  if (why != nullptr) *why = "Open vSwitch is not running and ovs-ctl start failed: " + out;
  return false;
}

}  // namespace pulse::testing

#endif  // PULSE_TESTS_SOUTHBOUND_OPENFLOW_OVS_SHELL_H_
