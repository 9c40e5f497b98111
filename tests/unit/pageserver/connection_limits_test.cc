#include "pageserver/pq/connection_limits.h"

#include <gtest/gtest.h>

#include <vector>

namespace zenith::pageserver {
namespace {

using namespace std::chrono_literals;
using Clock = AdmissionControl::Clock;

ConnectionLimitsOptions Small() {
  ConnectionLimitsOptions o;
  o.max_unauthenticated = 5;
  o.max_unauthenticated_per_address = 2;
  o.failed_login_delay_base = 100ms;
  o.failed_login_delay_max = 1000ms;
  o.failed_login_decay = 60s;
  o.max_tracked_addresses = 3;
  return o;
}

TEST(AdmissionControl, OneAddressGetsOnlyItsShare) {
  auto control = AdmissionControl::Create(Small());
  ConnectionTicket a = control->Admit("10.0.0.1");
  ConnectionTicket b = control->Admit("10.0.0.1");
  EXPECT_TRUE(a.holds());
  EXPECT_TRUE(b.holds());
  EXPECT_FALSE(control->Admit("10.0.0.1").holds()) << "a third from one address is over its cap";
  EXPECT_TRUE(control->Admit("10.0.0.2").holds()) << "another address still gets in";
  EXPECT_EQ(control->unauthenticated_from("10.0.0.1"), 2);
}

TEST(AdmissionControl, OverallCapHoldsAcrossAddresses) {
  auto control = AdmissionControl::Create(Small());
  std::vector<ConnectionTicket> held;
  for (int i = 0; i < 5; ++i) held.push_back(control->Admit("10.0.0." + std::to_string(i)));
  for (const auto& t : held) EXPECT_TRUE(t.holds());
  EXPECT_FALSE(control->Admit("10.0.0.9").holds());
  EXPECT_EQ(control->unauthenticated(), 5);
}

TEST(AdmissionControl, AuthenticatingOrEndingFreesTheSlot) {
  auto control = AdmissionControl::Create(Small());
  ConnectionTicket a = control->Admit("10.0.0.1");
  {
    ConnectionTicket b = control->Admit("10.0.0.1");
    EXPECT_FALSE(control->Admit("10.0.0.1").holds());
  }
  EXPECT_EQ(control->unauthenticated_from("10.0.0.1"), 1) << "a ticket's end gives its slot back";
  a.Authenticated();
  EXPECT_FALSE(a.holds());
  a.Authenticated();  // twice is harmless
  EXPECT_EQ(control->unauthenticated(), 0);
  ConnectionTicket moved = control->Admit("10.0.0.1");
  ConnectionTicket target = std::move(moved);
  EXPECT_FALSE(moved.holds());
  EXPECT_EQ(control->unauthenticated(), 1) << "a moved ticket is counted once";
}

TEST(AdmissionControl, FailedLoginsAreSlowedExponentiallyUpToTheBound) {
  auto control = AdmissionControl::Create(Small());
  const auto t = Clock::now();
  EXPECT_EQ(control->NoteFailedLogin("10.0.0.1", t), 100ms);
  EXPECT_EQ(control->NoteFailedLogin("10.0.0.1", t), 200ms);
  EXPECT_EQ(control->NoteFailedLogin("10.0.0.1", t), 400ms);
  EXPECT_EQ(control->NoteFailedLogin("10.0.0.1", t), 800ms);
  EXPECT_EQ(control->NoteFailedLogin("10.0.0.1", t), 1000ms);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(control->NoteFailedLogin("10.0.0.1", t), 1000ms);
  EXPECT_EQ(control->NoteFailedLogin("10.0.0.2", t), 100ms) << "another address starts afresh";
}

TEST(AdmissionControl, FailuresDecayAndASuccessForgetsThem) {
  auto control = AdmissionControl::Create(Small());
  const auto t = Clock::now();
  for (int i = 0; i < 4; ++i) control->NoteFailedLogin("10.0.0.1", t);  // 4 failures
  // Two decay periods later two are forgotten: this is the third.
  EXPECT_EQ(control->NoteFailedLogin("10.0.0.1", t + 120s), 400ms);
  EXPECT_EQ(control->NoteFailedLogin("10.0.0.1", t + 1h), 100ms) << "long quiet forgets all";
  control->NoteSuccessfulLogin("10.0.0.1");
  EXPECT_EQ(control->NoteFailedLogin("10.0.0.1", t + 1h), 100ms);
}

TEST(AdmissionControl, TrackedAddressesAreBounded) {
  auto control = AdmissionControl::Create(Small());
  const auto t = Clock::now();
  for (int i = 0; i < 50; ++i) control->NoteFailedLogin("10.0.1." + std::to_string(i), t + std::chrono::seconds(i));
  EXPECT_LE(control->tracked_addresses(), 3u);
  // The newest are the ones kept.
  EXPECT_EQ(control->NoteFailedLogin("10.0.1.49", t + 50s), 200ms);
}

}  // namespace
}  // namespace zenith::pageserver
