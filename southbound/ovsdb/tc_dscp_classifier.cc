#include "southbound/ovsdb/tc_dscp_classifier.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include <cctype>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace pulse::southbound::ovsdb {
namespace {

bool ValidDevName(absl::string_view dev) {
  if (dev.empty() || dev.size() > 15) return false;
  for (char c : dev) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
      return false;
    }
  }
  return true;
}

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  while (true) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;
    }
  }
  return out;
}

}  // namespace

CommandRunner SystemCommandRunner() {
  return [](const std::vector<std::string>& argv) -> absl::StatusOr<std::string> {
    if (argv.empty()) return absl::InvalidArgumentError("empty command");
    int out_pipe[2], err_pipe[2];
    if (pipe(out_pipe) != 0) return absl::InternalError("pipe failed");
    if (pipe(err_pipe) != 0) {
      close(out_pipe[0]);
      close(out_pipe[1]);
      return absl::InternalError("pipe failed");
    }
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const pid_t pid = fork();
    if (pid < 0) return absl::InternalError(absl::StrCat("fork failed: ", strerror(errno)));
    if (pid == 0) {
      dup2(out_pipe[1], 1);
      dup2(err_pipe[1], 2);
      close(out_pipe[0]);
      close(err_pipe[0]);
      close(out_pipe[1]);
      close(err_pipe[1]);
      execvp(args[0], args.data());
      _exit(127);
    }
    close(out_pipe[1]);
    close(err_pipe[1]);
    // tc output is small; read stdout then stderr (no deadlock risk at these sizes).
    std::string out = ReadAll(out_pipe[0]);
    std::string err = ReadAll(err_pipe[0]);
    close(out_pipe[0]);
    close(err_pipe[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      return absl::InternalError(absl::StrCat("'", absl::StrJoin(argv, " "), "' failed (status ",
                                              status, "): ", absl::StripAsciiWhitespace(err)));
    }
    return out;
  };
}

absl::StatusOr<std::vector<DscpFilter>> ParseTcFilterShow(absl::string_view text) {
  std::vector<DscpFilter> out;
  int line_no = 0;
  bool have_flowid = false;
  uint32_t minor = 0;
  int matches = 0;
  bool dsfield = false;
  int dscp = 0;
  auto flush = [&] {
    if (have_flowid && matches == 1 && dsfield) out.push_back({dscp, minor});
    have_flowid = false;
    matches = 0;
    dsfield = false;
  };
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    absl::string_view trimmed = absl::StripAsciiWhitespace(line);
    if (absl::StartsWith(trimmed, "filter ")) {
      flush();
      std::vector<absl::string_view> tokens = absl::StrSplit(trimmed, ' ', absl::SkipEmpty());
      for (size_t i = 0; i + 1 < tokens.size(); ++i) {
        absl::string_view t = tokens[i];
        absl::ConsumePrefix(&t, "*");
        if (t != "flowid" && t != "classid") continue;
        std::vector<absl::string_view> parts = absl::StrSplit(tokens[i + 1], ':');
        uint32_t major = 0;
        if (parts.size() != 2 || !absl::SimpleHexAtoi(parts[0], &major) ||
            !absl::SimpleHexAtoi(parts[1], &minor)) {
          return absl::InvalidArgumentError(
              absl::StrCat("tc filter show line ", line_no, ": bad flowid '", tokens[i + 1], "'"));
        }
        have_flowid = major == 1;
      }
    } else if (absl::StartsWith(trimmed, "match ")) {
      ++matches;
      // "match 00680000/00fc0000 at 0"
      std::vector<absl::string_view> tokens = absl::StrSplit(trimmed, ' ', absl::SkipEmpty());
      std::vector<absl::string_view> vm;
      if (tokens.size() >= 2) vm = absl::StrSplit(tokens[1], '/');
      uint32_t value = 0, mask = 0;
      if (tokens.size() < 4 || vm.size() != 2 || !absl::SimpleHexAtoi(vm[0], &value) ||
          !absl::SimpleHexAtoi(vm[1], &mask)) {
        return absl::InvalidArgumentError(
            absl::StrCat("tc filter show line ", line_no, ": bad match '", trimmed, "'"));
      }
      if (mask == 0x00fc0000u && tokens[2] == "at" && tokens[3] == "0") {
        dsfield = true;
        dscp = static_cast<int>((value >> 18) & 0x3f);
      }
    }
  }
  flush();
  std::sort(out.begin(), out.end());
  return out;
}

absl::Status TcDscpClassifier::Install(absl::string_view dev,
                                       const std::vector<DscpFilter>& filters) {
  if (!ValidDevName(dev)) {
    return absl::InvalidArgumentError(absl::StrCat("tc: bad device name '", dev, "'"));
  }
  for (const DscpFilter& f : filters) {
    if (f.dscp < 0 || f.dscp > 63 || f.class_minor == 0 || f.class_minor > 0xffff) {
      return absl::InvalidArgumentError(
          absl::StrCat("tc: bad filter dscp ", f.dscp, " -> class 1:", f.class_minor));
    }
  }
  const std::string d(dev);
  const std::string prio = std::to_string(kFilterPrio);
  absl::StatusOr<std::vector<DscpFilter>> existing = Read(dev);
  if (!existing.ok()) return existing.status();
  if (!existing->empty()) {
    absl::StatusOr<std::string> r =
        run_({tc_, "filter", "del", "dev", d, "parent", "1:", "protocol", "ip", "prio", prio});
    if (!r.ok()) return r.status();
  }
  for (const DscpFilter& f : filters) {
    absl::StatusOr<std::string> r =
        run_({tc_, "filter", "add", "dev", d, "parent", "1:", "protocol", "ip", "prio", prio, "u32",
              "match", "ip", "dsfield", absl::StrFormat("0x%02x", f.dscp << 2), "0xfc", "flowid",
              absl::StrFormat("1:%x", f.class_minor)});
    if (!r.ok()) return r.status();
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<DscpFilter>> TcDscpClassifier::Read(absl::string_view dev) {
  if (!ValidDevName(dev)) {
    return absl::InvalidArgumentError(absl::StrCat("tc: bad device name '", dev, "'"));
  }
  absl::StatusOr<std::string> text =
      run_({tc_, "filter", "show", "dev", std::string(dev), "parent", "1:"});
  if (!text.ok()) return text.status();
  return ParseTcFilterShow(*text);
}

absl::StatusOr<std::vector<std::string>> TcDscpClassifier::Audit(
    absl::string_view dev, const std::vector<DscpFilter>& want) {
  absl::StatusOr<std::vector<DscpFilter>> have = Read(dev);
  if (!have.ok()) return have.status();
  std::map<int, std::vector<uint32_t>> w, h;
  for (const DscpFilter& f : want) w[f.dscp].push_back(f.class_minor);
  for (const DscpFilter& f : *have) h[f.dscp].push_back(f.class_minor);
  auto names = [](const std::vector<uint32_t>* v) {
    if (v == nullptr) return std::string("none");
    std::string s;
    for (uint32_t m : *v) absl::StrAppend(&s, s.empty() ? "" : ",", absl::StrFormat("1:%x", m));
    return s;
  };
  std::vector<std::string> diffs;
  std::map<int, bool> dscps;
  for (const auto& [d, v] : w) dscps[d] = true;
  for (const auto& [d, v] : h) dscps[d] = true;
  for (const auto& [d, unused] : dscps) {
    auto wi = w.find(d);
    auto hi = h.find(d);
    const std::string ws = names(wi == w.end() ? nullptr : &wi->second);
    const std::string hs = names(hi == h.end() ? nullptr : &hi->second);
    if (ws != hs) {
      diffs.push_back(absl::StrCat("dev ", dev, " dscp ", d, ": want class ", ws, ", have ", hs));
    }
  }
  return diffs;
}

absl::StatusOr<std::vector<std::string>> TcDscpClassifier::Repair(
    absl::string_view dev, const std::vector<DscpFilter>& want) {
  absl::StatusOr<std::vector<std::string>> diffs = Audit(dev, want);
  if (!diffs.ok() || diffs->empty()) return diffs;
  if (absl::Status s = Install(dev, want); !s.ok()) return s;
  return diffs;
}

}  // namespace pulse::southbound::ovsdb
