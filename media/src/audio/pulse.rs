//! PulseAudio capture (a sink's monitor, e.g. `vsink.monitor`) through libpulse-simple.
