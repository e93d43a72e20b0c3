// Names the calling thread, so an operator's tools tell Pulse's threads apart: `top -H`,
// `ps -L -o tid,comm`, gdb's `info threads` and /proc/PID/task/TID/comm show the name.
//
// Every thread Pulse starts names itself first thing, "pulse-" plus what it serves (the list,
// with each thread's reason, is docs/threads.md). Linux keeps at most 15 bytes of a name: longer
// names are cut there, so keep them short and tell-apart in their first 15 bytes.
#ifndef PULSE_COMMON_THREAD_NAME_H_
#define PULSE_COMMON_THREAD_NAME_H_

#include <pthread.h>

#include <cstddef>

#include <string>

#include "absl/strings/string_view.h"

namespace pulse {

inline constexpr size_t kMaxThreadNameBytes = 15;  // TASK_COMM_LEN 16, with its NUL

// Best effort: a name the kernel refuses leaves the thread unnamed (a name is a debugging aid,
// never a reason to stop a thread).
inline void NameThisThread(absl::string_view name) {
  std::string bounded(name.substr(0, kMaxThreadNameBytes));
  pthread_setname_np(pthread_self(), bounded.c_str());
}

}  // namespace pulse

#endif  // PULSE_COMMON_THREAD_NAME_H_
