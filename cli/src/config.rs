//! Configuration: `waitlint.toml` files and the flags that override them.
//!
//! (First version: flags only; waitlint.toml discovery is added on top of this interface.)

use std::path::Path;
use std::sync::Arc;

use lints::{NginxVersion, Settings};

use crate::args::CheckArgs;

/// The configuration that applies to one file.
#[derive(Debug, Default)]
pub struct FileConfig {
    pub settings: Settings,
}

/// A configuration problem; the run stops with exit status 2.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub struct ConfigStore {
    config: Arc<FileConfig>,
}

impl ConfigStore {
    pub fn new(args: &CheckArgs) -> Result<ConfigStore, ConfigError> {
        let mut settings = Settings::default();
        if let Some(v) = &args.nginx_version {
            settings.nginx_version = NginxVersion::parse(v).ok_or_else(|| {
                ConfigError(format!(
                    "--nginx-version {v}: expected a version such as 1.22 or 1.25.3"
                ))
            })?;
            settings.nginx_version_configured = true;
        }
        Ok(ConfigStore {
            config: Arc::new(FileConfig { settings }),
        })
    }

    pub fn for_path(&self, _path: &Path) -> Result<Arc<FileConfig>, ConfigError> {
        Ok(self.config.clone())
    }
}
