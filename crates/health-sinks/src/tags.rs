//! Tag order independence without allocating: tags are visited in `(key, value)` order
//! through a small index array, so a series is identified the same way whatever order the
//! caller passed its tags in.

use crate::Tag;

/// Tag sets up to this size are sorted on the stack; larger ones allocate.
const INLINE: usize = 16;

/// A view of a tag slice in `(key, value)` order.
pub(crate) struct SortedTags<'t, 'a> {
    tags: &'t [Tag<'a>],
    order: Order,
}

enum Order {
    Inline { indices: [u32; INLINE], len: usize },
    Heap(Vec<u32>),
}

impl<'t, 'a> SortedTags<'t, 'a> {
    pub(crate) fn new(tags: &'t [Tag<'a>]) -> Self {
        // Indices are u32: a tag slice longer than u32::MAX cannot fit in memory anyway.
        let order = if tags.len() <= INLINE {
            let mut indices = [0_u32; INLINE];
            for (len, tag) in tags.iter().enumerate() {
                // Insertion sort: tag sets are small and usually already sorted.
                let mut position = len;
                while position > 0 && tags[indices[position - 1] as usize] > *tag {
                    indices[position] = indices[position - 1];
                    position -= 1;
                }
                indices[position] = len as u32;
            }
            Order::Inline {
                indices,
                len: tags.len(),
            }
        } else {
            let mut indices: Vec<u32> = (0..tags.len() as u32).collect();
            indices.sort_by(|&a, &b| tags[a as usize].cmp(&tags[b as usize]));
            Order::Heap(indices)
        };
        Self { tags, order }
    }

    #[cfg(feature = "prometheus")]
    pub(crate) fn len(&self) -> usize {
        self.tags.len()
    }

    /// The tags in `(key, value)` order.
    pub(crate) fn iter(&self) -> impl ExactSizeIterator<Item = Tag<'a>> + Clone + '_ {
        let indices = match &self.order {
            Order::Inline { indices, len } => &indices[..*len],
            Order::Heap(indices) => indices.as_slice(),
        };
        indices.iter().map(|&i| self.tags[i as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(tags: &[Tag<'_>]) {
        let mut expected = tags.to_vec();
        expected.sort_unstable();
        let sorted: Vec<Tag<'_>> = SortedTags::new(tags).iter().collect();
        assert_eq!(sorted, expected);
    }

    #[test]
    fn visits_tags_in_key_then_value_order() {
        check(&[]);
        check(&[("a", "1")]);
        check(&[("b", "2"), ("a", "1")]);
        check(&[("a", "2"), ("a", "1"), ("A", "0")]);
        check(&[
            ("env", "prod"),
            ("host", "web-1"),
            ("check", "redis"),
            ("az", "b"),
        ]);
        let many: Vec<(String, String)> = (0..40)
            .rev()
            .map(|i| (format!("k{}", i % 7), format!("v{i}")))
            .collect();
        let many: Vec<Tag<'_>> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        check(&many[..INLINE]);
        check(&many);
    }
}
