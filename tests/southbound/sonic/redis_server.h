// A real redis-server for tests, standing in for one SONiC switch's databases: started by the
// test on a free loopback port and a unix socket in a private folder, no persistence, keyspace
// notifications on (as SONiC runs it), killed (by its own pid) when the object goes away.
#ifndef PULSE_TESTS_SOUTHBOUND_SONIC_REDIS_SERVER_H_
#define PULSE_TESTS_SOUTHBOUND_SONIC_REDIS_SERVER_H_

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "southbound/sonic/redis_client.h"

namespace pulse::testing {

class RedisServer {
 public:
  // `password` non-empty: requirepass. `port` 0: a free one.
  explicit RedisServer(std::string password = "", int port = 0) : password_(std::move(password)) {
    char dir_template[] = "/tmp/pulse-redis-XXXXXX";
    dir_ = mkdtemp(dir_template);
    port_ = port != 0 ? port : FreePort();
    Start();
  }
  ~RedisServer() {
    Kill();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // Starts (again) on the same port and socket; waits until it answers PING.
  void Start() {
    pid_ = fork();
    if (pid_ == 0) {
      std::vector<std::string> args = {"redis-server",
                                       "--port",
                                       std::to_string(port_),
                                       "--bind",
                                       "127.0.0.1",
                                       "--unixsocket",
                                       socket_path(),
                                       "--save",
                                       "",
                                       "--appendonly",
                                       "no",
                                       "--dir",
                                       dir_,
                                       "--databases",
                                       "16",
                                       "--notify-keyspace-events",
                                       "KEA",
                                       "--loglevel",
                                       "warning",
                                       "--logfile",
                                       dir_ + "/redis.log"};
      if (!password_.empty()) {
        args.push_back("--requirepass");
        args.push_back(password_);
      }
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execvp("redis-server", argv.data());
      _exit(127);
    }
    for (int i = 0; i < 200; ++i) {
      auto client = Client();
      if (client.ok()) {
        auto pong = (*client)->Command({"PING"});
        if (pong.ok() && pong->str == "PONG") return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  // SIGKILL, as a crashed switch would go.
  void Kill() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
      pid_ = -1;
    }
  }

  int port() const { return port_; }
  std::string socket_path() const { return dir_ + "/redis.sock"; }
  southbound::sonic::RedisAddress tcp_address() const {
    southbound::sonic::RedisAddress a;
    a.host = "127.0.0.1";
    a.port = port_;
    return a;
  }
  southbound::sonic::RedisAddress unix_address() const {
    southbound::sonic::RedisAddress a;
    a.unix_path = socket_path();
    return a;
  }
  // A separate client selected on `db` (the test's own view of the switch).
  absl::StatusOr<std::unique_ptr<southbound::sonic::RedisClient>> Client(int db = 4) const {
    auto c = southbound::sonic::RedisClient::Connect(tcp_address(), password_,
                                                     std::chrono::milliseconds(1000));
    if (!c.ok()) return c.status();
    auto r = (*c)->Command({"SELECT", std::to_string(db)});
    if (!r.ok()) return r.status();
    if (r->kind == southbound::sonic::RedisReply::Kind::kError) {
      return absl::PermissionDeniedError(r->str);
    }
    return c;
  }

  static int FreePort() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    close(fd);
    return ntohs(addr.sin_port);
  }

 private:
  std::string password_;
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace pulse::testing

#endif  // PULSE_TESTS_SOUTHBOUND_SONIC_REDIS_SERVER_H_
