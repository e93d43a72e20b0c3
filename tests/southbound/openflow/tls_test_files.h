#ifndef PULSE_TESTS_SOUTHBOUND_OPENFLOW_TLS_TEST_FILES_H_
#define PULSE_TESTS_SOUTHBOUND_OPENFLOW_TLS_TEST_FILES_H_

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace pulse::openflow::testing {

// A CA, the controller's certificate, a switch certificate it signed, and a switch certificate
// from another CA, made with the openssl command into a temporary folder.
class TlsFiles {
 public:
  explicit TlsFiles(const std::string& folder = "openflow_tls")
      : dir_(::testing::TempDir() + "/" + folder) {
    std::string script =
        absl::StrCat("set -e; rm -rf ", dir_, "; mkdir -p ", dir_, "; cd ", dir_, R"(;
        key() { n=$1; shift; openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout $n.key -subj /CN=$n "$@"; }
        ca() { key $1 -x509 -days 2 -out $1.pem; }
        leaf() { key $1 -out $1.csr; openssl x509 -req -in $1.csr -CA $2.pem -CAkey $2.key -CAcreateserial -days 2 -out $1.pem; }
        ca ca; ca rogue-ca; leaf controller ca; leaf switch ca; leaf rogue-switch rogue-ca
      )",
                     " >/dev/null 2>&1");
    ok_ = std::system(script.c_str()) == 0;
  }
  bool ok() const { return ok_; }
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

 private:
  std::string dir_;
  bool ok_ = false;
};

}  // namespace pulse::openflow::testing

#endif  // PULSE_TESTS_SOUTHBOUND_OPENFLOW_TLS_TEST_FILES_H_
