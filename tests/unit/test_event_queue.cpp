#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "core/event_queue.hpp"

using namespace spikesim;

TEST_CASE("events are delivered at emission step + delay, in push order", "[event_queue]") {
  EventQueue q(3);
  q.push({0, 0, 1, 2}, 1);
  q.push({0, 0, 2, 3}, 3);
  q.push({0, 1, 7, -1}, 1);
  q.push({1, 0, 4, 1}, 2);
  CHECK(q.pending() == 4);
  CHECK(q.take(0).empty());
  const auto at1 = q.take(1);
  REQUIRE(at1.size() == 2);
  CHECK(at1[0].neuron == 1);
  CHECK(at1[1].neuron == 7);
  CHECK(q.take(2).empty());
  const auto at3 = q.take(3);
  REQUIRE(at3.size() == 2);
  CHECK(at3[0].neuron == 2);
  CHECK(at3[1].neuron == 4);
  CHECK(q.pending() == 0);
}

TEST_CASE("the queue refuses bad delays, late pushes and skipped steps", "[event_queue]") {
  EventQueue q(2);
  CHECK_THROWS_AS(q.push({0, 0, 0, 1}, 0), Error);
  CHECK_THROWS_AS(q.push({0, 0, 0, 1}, 3), Error);
  q.push({0, 0, 0, 1}, 1);
  CHECK_THROWS_AS(q.take(2), Error);  // step 1 holds an event
  EventQueue r(1);
  (void)r.take(5);
  CHECK_THROWS_AS(r.push({3, 0, 0, 1}, 1), Error);  // due at step 4, already past
  CHECK_NOTHROW(r.push({5, 0, 0, 1}, 1));         // emitted during step 5, due at 6
  CHECK_THROWS_AS(r.take(5), Error);
  CHECK(r.take(6).size() == 1);
}

TEST_CASE("the ring reuses buckets across many steps", "[event_queue]") {
  EventQueue q(4);
  std::size_t delivered = 0;
  for (Step t = 0; t < 1000; ++t) {
    delivered += q.take(t).size();
    q.push({t, 0, t, 1}, 1 + t % 4);
  }
  for (Step t = 1000; t < 1005; ++t) delivered += q.take(t).size();
  CHECK(delivered == 1000);
}
