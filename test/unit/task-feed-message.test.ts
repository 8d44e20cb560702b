import { describe, expect, it } from 'vitest';
import { parseTaskFeedMessage } from '../../src/worker/task-feed.ts';

describe('parseTaskFeedMessage', () => {
  it('reads the sender and the task ids', () => {
    expect(parseTaskFeedMessage('{"from":"p1","succeeded":["task-12","session[52f1]task-3"]}')).toEqual({ from: 'p1', succeeded: ['task-12', 'session[52f1]task-3'] });
    expect(parseTaskFeedMessage('{"from":"p1","succeeded":[]}').succeeded).toEqual([]);
  });

  it.each([
    ['not json', /not JSON/],
    ['[1]', /not a JSON object/],
    ['null', /not a JSON object/],
    ['{"succeeded":["task-1"]}', /"from"/],
    ['{"from":"","succeeded":["task-1"]}', /"from"/],
    ['{"from":"p","succeeded":"task-1"}', /"succeeded" must be an array/],
    ['{"from":"p","succeeded":[42]}', /"succeeded" holds 42, not a task id/],
    ['{"from":"p","succeeded":["task 1; DROP"]}', /not a task id/],
    [JSON.stringify({ from: 'p', succeeded: Array.from({ length: 1001 }, (_, i) => `task-${i}`) }), /1001 tasks/],
  ])('refuses %s with a message naming the problem', (raw, problem) => {
    expect(() => parseTaskFeedMessage(raw)).toThrow(problem);
  });
});
