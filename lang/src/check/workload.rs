//! `container`: each test on it becomes tests on `container.id` and `ns.pid`, written here
//! once, so that the evaluator and the compiler only see attributes the program reads.

use super::Checker;
use crate::catalog::{self, Event, CONTAINER, CONTAINER_ID, PID_NAMESPACE};
use crate::checked::{Cond, IntOp, Predicate, Test};
use crate::span::Span;

impl Checker<'_> {
    /// `cond` with every test on `container` (a boolean: only ever `IsTrue`) written as
    /// `container.id != "" or ns.pid != <the host's>`. Container tools give every container
    /// a pid namespace of its own, and name its cgroup after its id; either says the
    /// process is in one. With the cgroup's path unknown the first test is unknown, and the
    /// rule fails closed unless the pid namespace alone decides.
    pub(super) fn expand_container(&mut self, cond: Cond, event: &'static Event) -> Option<Cond> {
        Some(match cond {
            Cond::And(a, b) => Cond::And(
                Box::new(self.expand_container(*a, event)?),
                Box::new(self.expand_container(*b, event)?),
            ),
            Cond::Or(a, b) => Cond::Or(
                Box::new(self.expand_container(*a, event)?),
                Box::new(self.expand_container(*b, event)?),
            ),
            Cond::Not(c) => Cond::Not(Box::new(self.expand_container(*c, event)?)),
            Cond::Test(test)
                if self.attributes[test.attr.0 as usize].attribute.name == CONTAINER =>
            {
                let span: Span = test.span;
                let id = self.resolve_attribute(event, event.attribute(CONTAINER_ID)?, span)?;
                let pid_ns =
                    self.resolve_attribute(event, event.attribute(PID_NAMESPACE)?, span)?;
                let host = catalog::host_namespace(PID_NAMESPACE)?;
                let named = Cond::Not(Box::new(Cond::Test(Test {
                    attr: id,
                    predicate: Predicate::StrEq(Vec::new()),
                    span,
                })));
                let own_pids = Cond::Test(Test {
                    attr: pid_ns,
                    predicate: Predicate::Int {
                        op: IntOp::Ne,
                        value: host,
                    },
                    span,
                });
                Cond::Or(Box::new(named), Box::new(own_pids))
            }
            other => other,
        })
    }
}
