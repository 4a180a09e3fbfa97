//! Resource use: how the monitor samples CPU, memory and disk ([`ResourceConfig`]), the
//! levels it reports them at ([`ResourceThresholds`], [`Thresholds`]), which of them may
//! send the cascade to SAFE ([`ResourceSet`]) and, with the `disk` feature, `DiskUsage`.
//!
//! # Judged over a window, never on one sample
//!
//! Each resource's level is judged on the mean of the samples of the last
//! [`window`](ResourceConfig::window) (default 60 s, a sample every 5 s), and it reaches
//! `critical` only once the samples cover the whole window: one busy second never reads
//! critical, and neither does a minute that is critical half the time.
//!
//! # What may force SAFE
//!
//! The `overall` level is what the cascade reads (critical sends it to SAFE). A resource
//! outside [`force_safe`](ResourceConfig::force_safe) still reports its own level, but
//! counts at most as `warning` in `overall`. By default memory and disk may force SAFE and
//! CPU may not:
//!
//! - **CPU saturation is what a busy, healthy service looks like.** A server driven at full
//!   CPU by its own traffic is doing its job; sending it to SAFE (and, in the original,
//!   out of the load balancer) moves its load onto the other replicas, which saturate in
//!   turn: the cascade this layer exists to prevent. Load is shed by admission control,
//!   not by health. (Measured on the original's rule: `wrk -c64 -d30s /health/ready` got
//!   960,993 answers, all 503, because CPU >= 90 % read as critical.)
//! - **Memory and disk exhaustion break correctness**: allocations fail, the OOM killer
//!   strikes, writes and logs fail. Reducing work (SAFE) is the right answer there, and
//!   they are slow-moving, so a minute's window does not make them flap.
//!
//! What is measured depends on the features: `resources` measures CPU, memory and the
//! process' memory (sysinfo), `disk` the monitored disk (statvfs). A resource that is not
//! measured reads `unknown`; with neither feature the `resources` section reads
//! `available: false`, whatever the configuration.

#[cfg(feature = "disk")]
use std::io;
#[cfg(feature = "disk")]
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use health_model::{ResourceHealth, ResourceLevel, ResourceLevels, ResourceMetrics, Timestamp};
use parking_lot::Mutex;
use tokio::time::Instant;

use crate::error::{HealthError, positive};

/// Whether this build measures anything (CPU and memory, or disk).
const MEASURES_ANYTHING: bool = cfg!(any(feature = "resources", feature = "disk"));

#[cfg(feature = "resources")]
const MIB: f64 = 1024.0 * 1024.0;

/// Space on the file system holding a path, as `statvfs(2)` reports it (and as Python's
/// `shutil.disk_usage`, which the original used, computes it).
#[cfg(feature = "disk")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskUsage {
    /// The file system's size, in bytes.
    pub total_bytes: u64,
    /// Bytes in use (total minus free blocks, reserved blocks counted as free).
    pub used_bytes: u64,
    /// Bytes an unprivileged process can still write.
    pub free_bytes: u64,
}

#[cfg(feature = "disk")]
impl DiskUsage {
    /// The usage of the file system holding `path`. Blocking (a network file system can
    /// take long to answer): call it from a blocking thread.
    ///
    /// # Errors
    ///
    /// The operating system's error, e.g. `NotFound` for a path that does not exist.
    pub fn of(path: &Path) -> io::Result<Self> {
        let stat = rustix::fs::statvfs(path)?;
        let block = if stat.f_frsize == 0 {
            stat.f_bsize
        } else {
            stat.f_frsize
        };
        Ok(Self {
            total_bytes: stat.f_blocks.saturating_mul(block),
            used_bytes: stat
                .f_blocks
                .saturating_sub(stat.f_bfree)
                .saturating_mul(block),
            free_bytes: stat.f_bavail.saturating_mul(block),
        })
    }

    /// Used space as a percentage of the total (0 for a file system of size 0).
    #[must_use]
    #[allow(
        clippy::cast_precision_loss,
        reason = "a percentage needs no more than f64's 53 bits"
    )]
    pub fn usage_percent(&self) -> f64 {
        if self.total_bytes == 0 {
            0.0
        } else {
            self.used_bytes as f64 / self.total_bytes as f64 * 100.0
        }
    }
}

/// Warning and critical levels for one resource, in percent. A value at or above a level
/// reaches it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// At or above this: [`ResourceLevel::Warning`].
    pub warning: f64,
    /// At or above this: [`ResourceLevel::Critical`].
    pub critical: f64,
}

impl Thresholds {
    /// Thresholds with these levels.
    ///
    /// # Errors
    ///
    /// [`HealthError::InvalidConfig`] unless `0 <= warning <= critical <= 100`.
    pub fn new(warning: f64, critical: f64) -> Result<Self, HealthError> {
        let thresholds = Self { warning, critical };
        thresholds.validate("thresholds")?;
        Ok(thresholds)
    }

    pub(crate) fn validate(&self, setting: &'static str) -> Result<(), HealthError> {
        if (0.0..=100.0).contains(&self.warning)
            && (0.0..=100.0).contains(&self.critical)
            && self.warning <= self.critical
        {
            Ok(())
        } else {
            Err(HealthError::config(
                setting,
                format!(
                    "need 0 <= warning <= critical <= 100, got warning {} and critical {}",
                    self.warning, self.critical
                ),
            ))
        }
    }

    /// The level `percent` reaches; a NaN is [`ResourceLevel::Unknown`].
    #[must_use]
    pub fn level(&self, percent: f64) -> ResourceLevel {
        if percent.is_nan() {
            ResourceLevel::Unknown
        } else if percent >= self.critical {
            ResourceLevel::Critical
        } else if percent >= self.warning {
            ResourceLevel::Warning
        } else {
            ResourceLevel::Healthy
        }
    }
}

/// The thresholds of the `resources` section (the original's defaults: CPU 70/90 %,
/// memory 75/90 %, disk 80/95 %).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResourceThresholds {
    /// System-wide CPU use.
    pub cpu: Thresholds,
    /// System-wide memory use.
    pub memory: Thresholds,
    /// Use of the monitored disk.
    pub disk: Thresholds,
}

impl Default for ResourceThresholds {
    fn default() -> Self {
        Self {
            cpu: Thresholds {
                warning: 70.0,
                critical: 90.0,
            },
            memory: Thresholds {
                warning: 75.0,
                critical: 90.0,
            },
            disk: Thresholds {
                warning: 80.0,
                critical: 95.0,
            },
        }
    }
}

/// A choice among CPU, memory and disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceSet {
    /// System-wide CPU use.
    pub cpu: bool,
    /// System-wide memory use.
    pub memory: bool,
    /// Use of the monitored disk.
    pub disk: bool,
}

impl ResourceSet {
    /// Every resource (the original: any critical resource sent the cascade to SAFE).
    pub const ALL: Self = Self {
        cpu: true,
        memory: true,
        disk: true,
    };
}

impl Default for ResourceSet {
    /// Memory and disk, not CPU: see the [module documentation](self) for why.
    fn default() -> Self {
        Self {
            cpu: false,
            memory: true,
            disk: true,
        }
    }
}

/// How the monitor samples resources.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceConfig {
    /// The levels.
    pub thresholds: ResourceThresholds,
    /// The path whose file system is the monitored disk (default `/`).
    pub disk_path: PathBuf,
    /// How old a sample may get before a read triggers a new one (default 5 s). CPU use
    /// is the average since the previous sample.
    pub sample_interval: Duration,
    /// The samples a level is judged on: the mean of those of the last `window`, critical
    /// only once they cover it (default 60 s, twelve samples; at least the sample
    /// interval, which judges every sample alone, as the original did).
    pub window: Duration,
    /// The resources whose critical level makes `overall` critical, which sends the
    /// cascade to SAFE (default memory and disk).
    pub force_safe: ResourceSet,
}

impl Default for ResourceConfig {
    fn default() -> Self {
        Self {
            thresholds: ResourceThresholds::default(),
            disk_path: PathBuf::from("/"),
            sample_interval: Duration::from_secs(5),
            window: Duration::from_secs(60),
            force_safe: ResourceSet::default(),
        }
    }
}

impl ResourceConfig {
    pub(crate) fn validate(&self) -> Result<(), HealthError> {
        self.thresholds.cpu.validate("cpu thresholds")?;
        self.thresholds.memory.validate("memory thresholds")?;
        self.thresholds.disk.validate("disk thresholds")?;
        positive("sample_interval", self.sample_interval)?;
        if self.window < self.sample_interval {
            return Err(HealthError::config(
                "window",
                "must be at least the sample interval",
            ));
        }
        Ok(())
    }
}

/// One sample of each resource, percent (`None`: not measured).
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    cpu: Option<f64>,
    memory: Option<f64>,
    disk: Option<f64>,
}

/// The samples of the last window, and the levels judged on them.
#[derive(Debug, Default)]
pub(crate) struct Window {
    samples: std::collections::VecDeque<Sample>,
}

impl Window {
    /// Adds a sample taken at `at` and forgets those older than the window (keeping the
    /// newest of them, which says whether the samples cover the window).
    fn push(&mut self, sample: Sample, window: Duration) {
        self.samples.push_back(sample);
        while self.samples.len() > 1
            && self
                .samples
                .get(1)
                .is_some_and(|next| sample.at.saturating_duration_since(next.at) >= window)
        {
            self.samples.pop_front();
        }
    }

    /// The levels of the samples: each resource judged on the mean of the samples of the
    /// window, critical only once they cover it; `overall` the worst, counting a critical
    /// resource outside `config.force_safe` as a warning.
    fn levels(&self, config: &ResourceConfig) -> ResourceLevels {
        let Some(newest) = self.samples.back() else {
            return ResourceLevels::default();
        };
        // A sample stands for the interval before it (CPU use is the average since the
        // previous sample), so the samples cover the window once they span all but one
        // interval of it: with a window of one interval, one sample does.
        let covered = self.samples.front().is_some_and(|oldest| {
            newest.at.saturating_duration_since(oldest.at) + config.sample_interval >= config.window
        });
        let in_window = || {
            self.samples
                .iter()
                .filter(|sample| newest.at.saturating_duration_since(sample.at) < config.window)
        };
        let judge = |value: fn(&Sample) -> Option<f64>, limits: &Thresholds| {
            let values: Vec<f64> = in_window().filter_map(value).collect();
            if values.is_empty() {
                return ResourceLevel::Unknown;
            }
            #[allow(clippy::cast_precision_loss, reason = "a window holds few samples")]
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            match limits.level(mean) {
                ResourceLevel::Critical if !covered => ResourceLevel::Warning,
                level => level,
            }
        };
        let thresholds = &config.thresholds;
        let cpu = judge(|sample| sample.cpu, &thresholds.cpu);
        let memory = judge(|sample| sample.memory, &thresholds.memory);
        let disk = judge(|sample| sample.disk, &thresholds.disk);
        let counted = |level: ResourceLevel, forces_safe: bool| match level {
            ResourceLevel::Critical if !forces_safe => ResourceLevel::Warning,
            level => level,
        };
        let force = config.force_safe;
        let overall = ResourceLevels::from_levels(
            counted(cpu, force.cpu),
            counted(memory, force.memory),
            counted(disk, force.disk),
        )
        .overall;
        ResourceLevels {
            cpu,
            memory,
            disk,
            overall,
        }
    }
}

/// How long a state read waits for the very first resource sample before reporting
/// resources as unavailable (the sample goes on, and is used once it arrives).
pub(crate) const FIRST_SAMPLE_WAIT: Duration = Duration::from_secs(2);

/// Samples CPU, memory and disk on a blocking thread and caches the result, so reading
/// resources never blocks an async task.
///
/// At most one sample runs at a time: whoever wants one waits for the probe
/// asynchronously (and can give up), so a probe stuck in `statvfs` on a dead network
/// mount holds one blocking thread, never one per caller.
#[derive(Clone)]
pub(crate) struct ResourceSampler {
    inner: Arc<SamplerInner>,
}

struct SamplerInner {
    config: ResourceConfig,
    /// Held, by a blocking thread, for the whole of a sample.
    probe: Arc<tokio::sync::Mutex<Probe>>,
    cached: Mutex<Option<(Instant, ResourceHealth)>>,
    window: Mutex<Window>,
}

/// The `sysinfo` handle, only ever used on a blocking thread.
#[derive(Default)]
struct Probe {
    #[cfg(feature = "resources")]
    system: Option<sysinfo::System>,
    #[cfg(feature = "resources")]
    pid: Option<sysinfo::Pid>,
    #[cfg(feature = "resources")]
    cpu_primed: bool,
}

impl std::fmt::Debug for ResourceSampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceSampler")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl ResourceSampler {
    pub(crate) fn new(config: ResourceConfig) -> Self {
        Self {
            inner: Arc::new(SamplerInner {
                config,
                probe: Arc::new(tokio::sync::Mutex::new(Probe::default())),
                cached: Mutex::new(None),
                window: Mutex::default(),
            }),
        }
    }

    /// How often a sample is taken.
    pub(crate) fn sample_interval(&self) -> Duration {
        self.inner.config.sample_interval
    }

    /// The latest sample, waiting up to [`FIRST_SAMPLE_WAIT`] for the first one (taken on
    /// a blocking thread) if none exists. A stale sample is returned at once while a fresh
    /// one is taken in the background.
    pub(crate) async fn current(&self) -> ResourceHealth {
        if !MEASURES_ANYTHING {
            return unavailable();
        }
        if let Some(health) = self.cached_or_refresh_in_background() {
            return health;
        }
        tokio::time::timeout(FIRST_SAMPLE_WAIT, self.sample())
            .await
            .unwrap_or_else(|_elapsed| {
                tracing::warn!(
                    wait = %humantime::format_duration(FIRST_SAMPLE_WAIT),
                    "no resource sample yet; reporting resources as unavailable"
                );
                unavailable()
            })
    }

    /// The latest sample without waiting; `available: false` before the first one. Starts
    /// a background sample when the cache is stale or empty (inside a Tokio runtime).
    pub(crate) fn cached(&self) -> ResourceHealth {
        if !MEASURES_ANYTHING {
            return unavailable();
        }
        self.cached_or_refresh_in_background().unwrap_or_else(|| {
            self.refresh_in_background();
            unavailable()
        })
    }

    /// Takes a sample (on a blocking thread) and caches it; a sample younger than the
    /// sample interval is reused instead. Waits for a sample already running.
    pub(crate) async fn sample(&self) -> ResourceHealth {
        let probe = Arc::clone(&self.inner.probe).lock_owned().await;
        let inner = Arc::clone(&self.inner);
        let sampled = tokio::task::spawn_blocking(move || inner.sample_once(probe)).await;
        sampled.unwrap_or_else(|error| {
            tracing::warn!(%error, "resource sampling failed");
            unavailable()
        })
    }

    fn cached_or_refresh_in_background(&self) -> Option<ResourceHealth> {
        let (taken, health) = self.inner.lock_cache().clone()?;
        if taken.elapsed() >= self.inner.config.sample_interval {
            self.refresh_in_background();
        }
        Some(health)
    }

    /// Starts a sample on a blocking thread unless one is running; never waits.
    pub(crate) fn refresh_in_background(&self) {
        if !MEASURES_ANYTHING {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let Ok(probe) = Arc::clone(&self.inner.probe).try_lock_owned() else {
            return; // one sample at a time
        };
        let inner = Arc::clone(&self.inner);
        // Detached on purpose: it ends by itself after one sample.
        drop(runtime.spawn_blocking(move || inner.sample_once(probe)));
    }
}

#[cfg(all(test, any(feature = "resources", feature = "disk")))]
impl ResourceSampler {
    /// Holds the probe from another thread for `duration`, as a `statvfs` stuck on a dead
    /// network mount would.
    pub(crate) fn stall_probe_for(&self, duration: Duration) -> std::thread::JoinHandle<()> {
        let probe = Arc::clone(&self.inner.probe);
        let (held, wait) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let _probe = probe.blocking_lock();
            let _ = held.send(());
            std::thread::sleep(duration);
        });
        let _ = wait.recv();
        thread
    }
}

impl SamplerInner {
    /// Takes a sample with the probe (held for the whole sample) and caches it, unless
    /// one was taken less than a sample interval ago (then that one is returned).
    fn sample_once(&self, mut probe: tokio::sync::OwnedMutexGuard<Probe>) -> ResourceHealth {
        if let Some((taken, health)) = self.lock_cache().as_ref()
            && taken.elapsed() < self.config.sample_interval
        {
            return health.clone();
        }
        let (mut health, sample) = probe.sample(&self.config);
        let mut window = self.window.lock();
        window.push(sample, self.config.window);
        health.status = window.levels(&self.config);
        drop(window);
        *self.lock_cache() = Some((sample.at, health.clone()));
        health
    }

    fn lock_cache(&self) -> parking_lot::MutexGuard<'_, Option<(Instant, ResourceHealth)>> {
        self.cached.lock()
    }
}

/// Resources not measured: `available: false`, every level `unknown` (the defaults).
pub(crate) fn unavailable() -> ResourceHealth {
    ResourceHealth::default()
}

/// What sysinfo measured: system-wide CPU and memory use (percent), available memory and
/// this process' memory (MiB).
#[derive(Default)]
struct CpuMemory {
    cpu: Option<f64>,
    memory: Option<f64>,
    memory_available_mb: f64,
    process_memory_mb: f64,
}

impl Probe {
    /// One blocking sample of what this build measures: the section with the sample's
    /// measurements (its levels are the window's, set by the caller), and the sample.
    fn sample(&mut self, config: &ResourceConfig) -> (ResourceHealth, Sample) {
        let CpuMemory {
            cpu,
            memory,
            memory_available_mb,
            process_memory_mb,
        } = self.cpu_and_memory();
        let disk = disk_percent(config);
        let sample = Sample {
            at: Instant::now(),
            cpu,
            memory,
            disk,
        };
        let health = ResourceHealth {
            status: ResourceLevels::default(),
            current_metrics: ResourceMetrics {
                cpu_percent: cpu.unwrap_or(0.0),
                memory_percent: memory.unwrap_or(0.0),
                memory_available_mb,
                disk_usage_percent: disk.unwrap_or(0.0),
                process_memory_mb,
                timestamp: Some(Timestamp::now()),
            },
            available: cpu.is_some() || memory.is_some() || disk.is_some(),
        };
        (health, sample)
    }

    /// CPU and memory through sysinfo. The first call primes the CPU counters and waits
    /// sysinfo's minimum interval, so even the first CPU figure is a real measurement.
    #[cfg(feature = "resources")]
    fn cpu_and_memory(&mut self) -> CpuMemory {
        if self.system.is_none() {
            match sysinfo::System::new() {
                Ok(system) => self.system = Some(system),
                Err(error) => tracing::warn!(%error, "cpu and memory cannot be measured here"),
            }
            self.pid = sysinfo::get_current_pid().ok();
        }
        let mut measured = CpuMemory::default();
        let Some(system) = self.system.as_mut() else {
            return measured;
        };
        if !self.cpu_primed {
            system.refresh_cpu_usage();
            std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL);
            self.cpu_primed = true;
        }
        system.refresh_cpu_usage();
        measured.cpu = Some(f64::from(system.global_cpu_usage()));
        system.refresh_memory();
        let total = system.total_memory();
        let available = system.available_memory();
        #[allow(
            clippy::cast_precision_loss,
            reason = "memory sizes as MiB and percentages need no more than 53 bits"
        )]
        if total > 0 {
            measured.memory = Some(total.saturating_sub(available) as f64 / total as f64 * 100.0);
            measured.memory_available_mb = available as f64 / MIB;
        }
        if let Some(pid) = self.pid {
            system.refresh_processes_specifics(
                sysinfo::ProcessesToUpdate::Some(&[pid]),
                false,
                sysinfo::ProcessRefreshKind::nothing().with_memory(),
            );
            #[allow(clippy::cast_precision_loss, reason = "MiB need no more than 53 bits")]
            if let Some(process) = system.process(pid) {
                measured.process_memory_mb = process.memory() as f64 / MIB;
            }
        }
        measured
    }

    /// Without the `resources` feature, CPU and memory are not measured.
    #[cfg(not(feature = "resources"))]
    #[allow(
        clippy::unused_self,
        reason = "the same signature as the measuring variant"
    )]
    fn cpu_and_memory(&mut self) -> CpuMemory {
        CpuMemory::default()
    }
}

/// Use of the monitored disk, percent (`None` when it cannot be read).
#[cfg(feature = "disk")]
fn disk_percent(config: &ResourceConfig) -> Option<f64> {
    match DiskUsage::of(&config.disk_path) {
        Ok(usage) => Some(usage.usage_percent()),
        Err(error) => {
            tracing::warn!(path = %config.disk_path.display(), %error, "disk use cannot be measured");
            None
        }
    }
}

/// Without the `disk` feature, the disk is not measured.
#[cfg(not(feature = "disk"))]
fn disk_percent(_config: &ResourceConfig) -> Option<f64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_reached_at_the_threshold() {
        fn check(percent: f64, expected: ResourceLevel) {
            let cpu = ResourceThresholds::default().cpu;
            assert_eq!(cpu.level(percent), expected, "{percent}");
        }
        check(0.0, ResourceLevel::Healthy);
        check(69.99, ResourceLevel::Healthy);
        check(70.0, ResourceLevel::Warning);
        check(89.9, ResourceLevel::Warning);
        check(90.0, ResourceLevel::Critical);
        check(100.0, ResourceLevel::Critical);
        check(f64::NAN, ResourceLevel::Unknown);
    }

    fn sample(seconds: u64, cpu: f64, memory: f64) -> Sample {
        Sample {
            at: Instant::now() + Duration::from_secs(seconds),
            cpu: Some(cpu),
            memory: Some(memory),
            disk: None,
        }
    }

    #[test]
    fn levels_are_judged_on_the_window_and_critical_needs_it_covered() {
        let config = ResourceConfig::default(); // 60 s window
        let mut window = Window::default();
        window.push(sample(0, 99.0, 95.0), config.window);
        let levels = window.levels(&config);
        assert_eq!(
            levels.cpu,
            ResourceLevel::Warning,
            "one sample is never critical"
        );
        assert_eq!(levels.memory, ResourceLevel::Warning);
        assert_eq!(levels.disk, ResourceLevel::Unknown);
        for second in (5..=50).step_by(5) {
            window.push(sample(second, 99.0, 95.0), config.window);
        }
        assert_eq!(
            window.levels(&config).memory,
            ResourceLevel::Warning,
            "55 s covered"
        );
        window.push(sample(55, 99.0, 95.0), config.window);
        let levels = window.levels(&config);
        assert_eq!(levels.cpu, ResourceLevel::Critical);
        assert_eq!(levels.memory, ResourceLevel::Critical);
        assert_eq!(
            levels.overall,
            ResourceLevel::Critical,
            "memory may force SAFE"
        );

        // A spike in a calm minute moves the mean, not the level.
        let mut window = Window::default();
        for second in (0..=60).step_by(5) {
            let cpu = if second == 30 { 100.0 } else { 20.0 };
            window.push(sample(second, cpu, 10.0), config.window);
        }
        assert_eq!(window.levels(&config).cpu, ResourceLevel::Healthy);
        assert!(window.samples.len() <= 14, "old samples are forgotten");
    }

    #[test]
    fn cpu_alone_never_makes_overall_critical_by_default() {
        let config = ResourceConfig::default();
        let mut window = Window::default();
        for second in (0..=60).step_by(5) {
            window.push(sample(second, 100.0, 10.0), config.window);
        }
        let levels = window.levels(&config);
        assert_eq!(levels.cpu, ResourceLevel::Critical);
        assert_eq!(levels.overall, ResourceLevel::Warning);
        let original = ResourceConfig {
            force_safe: ResourceSet::ALL,
            ..ResourceConfig::default()
        };
        assert_eq!(window.levels(&original).overall, ResourceLevel::Critical);
    }

    #[test]
    fn thresholds_are_validated() {
        assert!(Thresholds::new(80.0, 95.0).is_ok());
        assert!(Thresholds::new(50.0, 50.0).is_ok());
        for (warning, critical) in [(96.0, 95.0), (-1.0, 10.0), (10.0, 101.0), (f64::NAN, 1.0)] {
            assert!(
                Thresholds::new(warning, critical).is_err(),
                "{warning} {critical}"
            );
        }
    }

    #[cfg(feature = "disk")]
    #[test]
    fn disk_usage_of_the_root_is_consistent_and_a_missing_path_is_an_error() {
        let usage = DiskUsage::of(Path::new("/")).unwrap();
        assert!(usage.total_bytes > 0);
        assert!(usage.used_bytes <= usage.total_bytes);
        assert!(usage.free_bytes <= usage.total_bytes);
        assert!((0.0..=100.0).contains(&usage.usage_percent()));
        let missing = DiskUsage::of(Path::new("/definitely/not/here")).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
        let empty = DiskUsage {
            total_bytes: 0,
            used_bytes: 0,
            free_bytes: 0,
        };
        assert!(empty.usage_percent().abs() < f64::EPSILON);
    }

    #[cfg(feature = "resources")]
    #[tokio::test]
    async fn a_sample_measures_everything_on_linux() {
        let sampler = ResourceSampler::new(ResourceConfig::default());
        assert!(!sampler.cached().available);
        let health = sampler.current().await;
        assert!(health.available);
        let metrics = &health.current_metrics;
        assert!((0.0..=100.0).contains(&metrics.cpu_percent));
        assert!(metrics.memory_percent > 0.0 && metrics.memory_percent <= 100.0);
        assert!(metrics.memory_available_mb > 0.0);
        assert!(metrics.process_memory_mb > 0.0);
        assert!(metrics.timestamp.is_some());
        assert_ne!(health.status.overall, ResourceLevel::Unknown);
        assert_eq!(sampler.cached(), health, "the sample is cached");
    }
}
