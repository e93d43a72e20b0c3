// Every RPC of every pulse.v1 service has a role in the method-role table (northbound/auth.cc).
// The services are read from every proto/pulse/v1/*.proto (a descriptor set protoc writes at build
// time from the source folder), so a service added in a new proto file is walked too, whether or
// not anything links its generated code. A method missing from the table is refused for every
// token (deny by default), so this test is what tells its author.
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "gtest/gtest.h"
#include "northbound/auth.h"

namespace pulse::northbound {
namespace {

TEST(AuthRoleTableTest, EveryRpcOfEveryPulseV1ServiceHasARole) {
  std::ifstream in(PULSE_V1_DESCRIPTORS, std::ios::binary);
  ASSERT_TRUE(in) << "cannot read " << PULSE_V1_DESCRIPTORS;
  std::stringstream bytes;
  bytes << in.rdbuf();
  google::protobuf::FileDescriptorSet set;
  ASSERT_TRUE(set.ParseFromString(bytes.str()));
  google::protobuf::DescriptorPool pool;
  for (const google::protobuf::FileDescriptorProto& file : set.file()) {
    ASSERT_NE(pool.BuildFile(file), nullptr) << file.name();
  }
  std::set<std::string> files;
  int methods = 0;
  for (const google::protobuf::FileDescriptorProto& proto : set.file()) {
    if (!absl::StartsWith(proto.name(), "pulse/v1/")) continue;  // imports (google/protobuf/...)
    files.insert(proto.name());
    const google::protobuf::FileDescriptor* file = pool.FindFileByName(proto.name());
    ASSERT_NE(file, nullptr) << proto.name();
    for (int s = 0; s < file->service_count(); ++s) {
      const google::protobuf::ServiceDescriptor* service = file->service(s);
      for (int m = 0; m < service->method_count(); ++m) {
        const std::string name =
            absl::StrCat("/", service->full_name(), "/", service->method(m)->name());
        EXPECT_TRUE(RequiredRole(name).has_value())
            << name << " (" << proto.name() << ") has no role in northbound/auth.cc";
        ++methods;
      }
    }
  }
  // The two files of today at least; other files add to these.
  EXPECT_TRUE(files.count("pulse/v1/pulse.proto")) << "descriptor set without pulse.proto";
  EXPECT_TRUE(files.count("pulse/v1/qos.proto")) << "descriptor set without qos.proto";
  EXPECT_GE(methods, 16);
  EXPECT_EQ(RequiredRole("/pulse.v1.QosService/SetQosPolicy"), std::optional<Role>(Role::kAdmin));
  EXPECT_EQ(RequiredRole("/pulse.v1.QosService/AuditQos"), std::optional<Role>(Role::kViewer));
}

}  // namespace
}  // namespace pulse::northbound
