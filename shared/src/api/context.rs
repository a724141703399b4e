//! What every API operation works with: the store, the Google clients, the run dispatcher and a clock. The Lambda
//! functions build it with [`wiring::api_context`](crate::wiring::api_context); tests and the local gateway build
//! it from parts of their own.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::clock::{Clock, SystemClock};
use crate::dispatch::Dispatcher;
use crate::google::{DirectoryApi, PeopleApi};
use crate::store::SyncStore;

/// The dependencies of the API operations, built once per Lambda instance.
#[derive(Clone)]
pub struct ApiContext {
    pub store: Arc<dyn SyncStore>,
    pub people: Arc<dyn PeopleApi>,
    pub directory: Arc<dyn DirectoryApi>,
    pub dispatcher: Arc<dyn Dispatcher>,
    pub clock: Arc<dyn Clock>,
}

impl fmt::Debug for ApiContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiContext").finish_non_exhaustive()
    }
}

impl ApiContext {
    /// A context on the system clock.
    pub fn new(
        store: Arc<dyn SyncStore>,
        people: Arc<dyn PeopleApi>,
        directory: Arc<dyn DirectoryApi>,
        dispatcher: Arc<dyn Dispatcher>,
    ) -> Self {
        ApiContext {
            store,
            people,
            directory,
            dispatcher,
            clock: Arc::new(SystemClock),
        }
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}
