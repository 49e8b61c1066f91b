// Module CharLSTMKit: contents land with their issue.
