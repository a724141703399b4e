//! The sync engine: resolve the audience, plan each destination, apply the plan.
