// Module SafeTensors: contents land with their issue.
