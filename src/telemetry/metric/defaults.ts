// The archive policies a fresh Gnocchi has (gnocchi-upgrade's low/medium/high/bool) and the
// ones ceilometer-upgrade adds for its meters (ceilometer-low, -high and their -rate forms).
export const DEFAULT_ARCHIVE_POLICIES = [
  {
    name: 'bool',
    back_window: 3600,
    aggregation_methods: ['last'],
    definition: [{ granularity: '1 second', timespan: '1 hour' }],
  },
  { name: 'low', definition: [{ granularity: '5 minutes', timespan: '30 days' }] },
  {
    name: 'medium',
    definition: [
      { granularity: '1 minute', timespan: '7 days' },
      { granularity: '1 hour', timespan: '365 days' },
    ],
  },
  {
    name: 'high',
    definition: [
      { granularity: '1 second', timespan: '1 hour' },
      { granularity: '1 minute', timespan: '7 days' },
      { granularity: '1 hour', timespan: '365 days' },
    ],
  },
  {
    name: 'ceilometer-low',
    aggregation_methods: ['mean'],
    definition: [{ granularity: '5 minutes', timespan: '30 days' }],
  },
  {
    name: 'ceilometer-low-rate',
    aggregation_methods: ['mean', 'rate:mean'],
    definition: [{ granularity: '5 minutes', timespan: '30 days' }],
  },
  {
    name: 'ceilometer-high',
    aggregation_methods: ['mean'],
    definition: [
      { granularity: '1 second', timespan: '1 hour' },
      { granularity: '1 minute', timespan: '1 day' },
      { granularity: '1 hour', timespan: '365 days' },
    ],
  },
  {
    name: 'ceilometer-high-rate',
    aggregation_methods: ['mean', 'rate:mean'],
    definition: [
      { granularity: '1 second', timespan: '1 hour' },
      { granularity: '1 minute', timespan: '1 day' },
      { granularity: '1 hour', timespan: '365 days' },
    ],
  },
];
