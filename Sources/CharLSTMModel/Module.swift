// Module CharLSTMModel: contents land with their issue.
