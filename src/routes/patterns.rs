//! The documented paths as patterns (`/api/tasks/{id}`), matched against a request's
//! path: the 405's `Allow` and the metrics' route label both read them.

use poem_openapi::registry::{MetaApi, MetaPath};

/// A value per documented path, found by a request's path.
pub struct PathPatterns<T> {
    paths: Vec<(Vec<Segment>, T)>,
}

/// One segment of a documented path: literal, or a `{parameter}` that matches any.
#[derive(Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Parameter,
}

impl<T> PathPatterns<T> {
    /// `value` gives each documented path its value.
    pub fn from_meta(apis: &[MetaApi], value: impl Fn(&MetaPath) -> T) -> Self {
        let paths = apis
            .iter()
            .flat_map(|api| &api.paths)
            .map(|path| (segments(&path.path), value(path)))
            .collect();
        Self { paths }
    }

    /// The value of the first documented path that `path` matches.
    pub fn find(&self, path: &str) -> Option<&T> {
        // Every request's route label is found here: no allocation.
        let wanted = path.trim_end_matches('/');
        let count = wanted.split('/').count();
        self.paths
            .iter()
            .find(|(pattern, _)| {
                pattern.len() == count
                    && pattern.iter().zip(wanted.split('/')).all(|(p, w)| match p {
                        Segment::Literal(literal) => literal == w,
                        Segment::Parameter => !w.is_empty(),
                    })
            })
            .map(|(_, value)| value)
    }
}

/// `/api/tasks/{id}` as its segments (the document's form of a path).
fn segments(path: &str) -> Vec<Segment> {
    path.trim_end_matches('/')
        .split('/')
        .map(|s| {
            if s.starts_with('{') && s.ends_with('}') {
                Segment::Parameter
            } else {
                Segment::Literal(s.to_owned())
            }
        })
        .collect()
}
