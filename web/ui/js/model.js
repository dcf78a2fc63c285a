// Words of the model (store/model.h).
export const STATUSES = ['new', 'open', 'pending', 'resolved', 'closed'];
export const PRIORITIES = ['low', 'normal', 'high', 'urgent'];
export const SORTS = [['number', 'Newest number'], ['updated', 'Last updated'], ['created', 'Created']];
