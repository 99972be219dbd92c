"""Input and output: audio files, streams and microphones, audio features, video and image sources, the frame loop, drawing on frames."""
