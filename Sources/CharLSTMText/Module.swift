// Module CharLSTMText: contents land with their issue.
